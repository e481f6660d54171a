package sandboxproc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

const callTool = "const call = globalThis.__isobox_internal.callTool;\n"

// Tool calls of a sandbox in a worker process run in the supervisor: concurrently (three
// calls meet at a barrier that only opens when all three are running at once), with their
// JSON arguments and results, and a tool's error rejects the guest's promise with its
// message, as in-process.
func TestPoolToolCalls(t *testing.T) {
	p := newPool(t, 1)
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	tools := func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		switch name {
		case "meet":
			mu.Lock()
			if arrived++; arrived == 3 {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			var in struct{ I int }
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, err
			}
			return json.RawMessage(fmt.Sprint(in.I * 10)), nil
		case "fail":
			return nil, errors.New("fail: the tool broke")
		}
		return nil, fmt.Errorf("no tool %q", name)
	}
	code := callTool + `const vals = await Promise.all([1, 2, 3].map(i => call("meet", {i})));
let msg; try { await call("fail", {}); } catch (e) { msg = e.message; }
return {vals, msg};`
	res, err := p.Eval(context.Background(), code, loader.EvalOptions{Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != `{"vals":[10,20,30],"msg":"fail: the tool broke"}` {
		t.Fatalf("got %s", res.Value)
	}
}

// toolProbe is a ToolFunc that blocks until its context ends and records that it started
// and when it returned.
type toolProbe struct {
	started  chan struct{}
	once     sync.Once
	returned atomic.Bool
	ctxErr   atomic.Value
}

func newToolProbe() *toolProbe { return &toolProbe{started: make(chan struct{})} }

func (tp *toolProbe) fn(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	tp.once.Do(func() { close(tp.started) })
	<-ctx.Done()
	tp.ctxErr.Store(ctx.Err())
	time.Sleep(20 * time.Millisecond) // a tool that takes a moment to stop: Eval must wait for it
	tp.returned.Store(true)
	return nil, ctx.Err()
}

// Ending a call waits for its tool functions, however it ends: the caller cancels, the
// sandbox's wall-time limit ends it, the process crashes, or the watchdog kills the stuck
// process. Each time the ToolFunc's context ends, and Eval returns (with the call's
// error) only after the ToolFunc has returned.
func TestPoolEvalWaitsForTools(t *testing.T) {
	p := newPool(t, 1)
	for _, tt := range []struct {
		name  string
		wall  time.Duration
		after func(t *testing.T, cancel context.CancelFunc)
		want  isoerr.Code
	}{
		{"caller cancels", 60 * time.Second, func(t *testing.T, cancel context.CancelFunc) { cancel() }, isoerr.Canceled},
		// The wall limits leave the guest time to reach its tool call on a loaded machine (it
		// takes milliseconds: over 100x); they trip while the tool blocks.
		{"wall-time limit", time.Second, func(*testing.T, context.CancelFunc) {}, isoerr.WallTimeExceeded},
		{"process crashes", 60 * time.Second, func(t *testing.T, _ context.CancelFunc) {
			if err := killProcess(p.Processes()[0]); err != nil {
				t.Error(err)
			}
		}, isoerr.SandboxRestarted},
		{"watchdog kills the stuck process", time.Second, func(t *testing.T, _ context.CancelFunc) {
			pid := p.Processes()[0]
			if err := stopProcess(pid); err != nil {
				t.Error(err)
			}
		}, isoerr.WallTimeExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			waitUp(t, p)
			tp := newToolProbe()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-tp.started:
					tt.after(t, cancel)
				case <-ctx.Done():
				}
			}()
			_, err := p.Eval(ctx, callTool+`await call("block", {}); return 1`,
				loader.EvalOptions{Tools: tp.fn, Limits: engine.Limits{Wall: tt.wall}})
			returned := tp.returned.Load()
			select {
			case <-tp.started:
			default:
				t.Fatalf("the tool was never called (%v)", err)
			}
			if isoerr.CodeOf(err) != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if !returned {
				t.Fatal("Eval returned before the tool function did")
			}
			if e, _ := tp.ctxErr.Load().(error); !errors.Is(e, context.Canceled) {
				t.Fatalf("the tool's context ended with %v", e)
			}
		})
	}
}

// waitUp waits until every process of p is up (after a kill, the replacement starts).
func waitUp(t *testing.T, p *Pool) {
	t.Helper()
	for range 3000 {
		up := true
		for _, pid := range p.Processes() {
			up = up && pid != 0
		}
		if up {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the sandbox processes did not come up")
}

// hostileToolsEnv makes the test binary a hostile worker process (of the tool tests): it speaks the wire but sends
// what an honest one never would (serveHostile).
const hostileToolsEnv = "ISOBOX_SANDBOXPROC_TEST_HOSTILE_TOOLS"

func init() {
	if os.Getenv(hostileToolsEnv) == "1" {
		serveHostile()
		os.Exit(0)
	}
}

// hostileReply is a tool result the hostile worker received.
type hostileReply struct {
	id uint64
	r  toolResult
}

// serveHostile runs the script of TestPoolToolCallsHostileWorker in a worker process and
// reports what the supervisor answered in its call results.
func serveHostile() {
	nc, err := net.FileConn(os.NewFile(WorkerFD, "supervisor"))
	if err != nil {
		os.Exit(2)
	}
	c := &conn{rw: nc}
	r := bufio.NewReader(nc)
	hdr := make([]byte, headerSize)
	r = fakeHandshake(c, r, hdr, 2)
	replies := make(chan hostileReply, 4*maxToolsInFlight)
	invokes := make(chan uint64, 16)
	go func() {
		for {
			typ, id, payload, err := readFrame(r, hdr)
			if err != nil {
				os.Exit(0)
			}
			switch typ {
			case msgToolResult:
				var tr toolResult
				_ = json.Unmarshal(payload, &tr)
				replies <- hostileReply{id, tr}
			case msgInvoke:
				invokes <- id
			}
		}
	}()
	tool := func(id, call uint64, name string) {
		_ = c.sendJSON(msgToolCall, id, toolCallMsg{Call: call, Name: name, Args: json.RawMessage("{}")})
	}
	show := func(h hostileReply) string {
		if h.r.Failed {
			return "error: " + h.r.Err
		}
		return "value: " + string(h.r.Value)
	}
	answer := func(call uint64, v any) {
		b, _ := json.Marshal(v)
		_ = c.sendJSON(msgResult, call, resultMsg{Value: b})
	}

	a := <-invokes                                      // an Eval with tools
	tool(1, a+1000, "never")                            // a call that does not exist
	_ = c.send(msgToolCall, 2, []byte("not json"))      // a message that does not decode
	_ = c.send(msgToolCancel, 1, []byte{1, 2, 3})       // a cancel without a call id
	_ = c.send(msgReqBodyChunk, 777, []byte{0, 'x'})    // a body chunk for no request
	_ = c.send(msgToolResult, 1, []byte(`{"value":1}`)) // a message of the other direction
	_ = c.send(99, 1, nil)                              // an unknown type
	tool(3, a, "ok")
	// Its answer before the flood: it is sent once the call left the running set, which
	// the flood's count then does not include whenever its goroutine runs.
	got := map[string]string{}
	for h := range replies {
		got[fmt.Sprint(h.id)] = show(h)
		if h.id == 3 {
			break
		}
	}
	tool(5, a, "block")
	tool(5, a, "block") // the same id again while it runs
	for i := range maxToolsInFlight + 5 {
		tool(uint64(100+i), a, "block")
	}
	flood := 0
	for len(got) < 4 || flood < 6 {
		h := <-replies
		if h.id >= 100 {
			if strings.Contains(h.r.Err, "too many tool calls in flight") {
				flood++
			} else {
				got[fmt.Sprint("flood ", h.id)] = show(h)
			}
			continue
		}
		got[fmt.Sprint(h.id)] = show(h)
	}
	got["flood refused"] = fmt.Sprint(flood)
	_ = c.send(msgToolCancel, 5, binaryID(a)) // the guest drops call 5: its context ends
	for h := range replies {
		if h.id == 5 {
			got["5 after cancel"] = show(h)
			break
		}
	}
	answer(a, got)
	tool(9, a, "never") // after the call ended

	b := <-invokes // an Eval without tools
	tool(10, b, "never")
	late := map[string]string{}
	for len(late) < 2 {
		h := <-replies
		if h.id == 9 || h.id == 10 {
			late[fmt.Sprint(h.id)] = show(h)
		}
	}
	answer(b, late)
	select {} // until the supervisor closes the connection
}

func binaryID(id uint64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[7-i] = byte(id >> (8 * i))
	}
	return b
}

// A worker process is not trusted with tool calls: the supervisor runs nothing for a
// tool call that names a call that does not exist, that is not an Eval with tools, or
// that has ended, nor for one that does not decode or reuses a running id; a call has at
// most maxToolsInFlight tool calls running; malformed and stray messages are ignored; and
// the supervisor and its process live on.
func TestPoolToolCallsHostileWorker(t *testing.T) {
	p, err := New(Config{Processes: 1, CacheDir: cacheDir, Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler),
		Command: func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), hostileToolsEnv+"=1")
			return cmd
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	var running, most, blocks, oks, nevers atomic.Int64
	tools := func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		switch name {
		case "ok":
			oks.Add(1)
			return json.RawMessage(`"fine"`), nil
		case "block":
			blocks.Add(1)
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		nevers.Add(1)
		return json.RawMessage(`"ran"`), nil
	}
	ctx := context.Background()
	res, err := p.Eval(ctx, "1", loader.EvalOptions{Tools: tools, Limits: engine.Limits{Wall: 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(res.Value, &got); err != nil {
		t.Fatalf("%s: %v", res.Value, err)
	}
	want := map[string]string{
		"1":              "error: isobox: tool call refused: call " + fmt.Sprint(p.nextCall.Load()+1000) + " of this process is not running with tools",
		"3":              `value: "fine"`,
		"5":              "error: isobox: tool call refused: a tool call with this id is running",
		"flood refused":  "6",
		"5 after cancel": "error: context canceled",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if !strings.HasPrefix(got["2"], "error: isobox: tool call refused: the message does not decode") {
		t.Errorf("2: got %q", got["2"])
	}
	if len(got) != len(want)+1 {
		t.Errorf("unexpected replies: %v", got)
	}
	if n := running.Load(); n != 0 {
		t.Fatalf("%d tool functions still running after Eval returned", n)
	}
	// Call 5 and the flood but its last 6: the bound, never passed.
	if n, m := blocks.Load(), most.Load(); n != maxToolsInFlight || m > maxToolsInFlight {
		t.Fatalf("%d blocking tool functions ran, at most %d at once; want %d, at most %d", n, m, maxToolsInFlight, maxToolsInFlight)
	}
	res, err = p.Eval(ctx, "2", loader.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var late map[string]string
	if err := json.Unmarshal(res.Value, &late); err != nil {
		t.Fatalf("%s: %v", res.Value, err)
	}
	for _, id := range []string{"9", "10"} {
		if !strings.Contains(late[id], "is not running with tools") {
			t.Errorf("tool call %s: got %q, want a refusal", id, late[id])
		}
	}
	if nevers.Load() != 0 || oks.Load() != 1 {
		t.Fatalf("tool functions ran for refused calls: never %d, ok %d", nevers.Load(), oks.Load())
	}
	if p.Restarts() != 0 {
		t.Fatalf("the hostile process was restarted %d times", p.Restarts())
	}
}
