package sandboxproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
)

// newSessions is a session manager whose sandboxes live in p's processes; with store set it
// keeps sessions in an image store (as isobox serve does).
func newSessions(t *testing.T, p *Pool, store images.Store, outbound http.RoundTripper) *session.Manager {
	t.Helper()
	cfg := session.Config{Host: p.SessionHost(), Images: store}
	if outbound != nil {
		cfg.Outbound = func(string, json.RawMessage) (http.RoundTripper, error) { return outbound, nil }
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func imageDir(t *testing.T) *images.Dir {
	t.Helper()
	d, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func sessEval(t *testing.T, m *session.Manager, name, code, want string) {
	t.Helper()
	res, err := m.Eval(context.Background(), name, code, engine.Limits{})
	if err != nil {
		t.Fatalf("%s: eval %q: %v", name, code, err)
	}
	if string(res.Value) != want {
		t.Fatalf("%s: eval %q = %s, want %s", name, code, res.Value, want)
	}
}

// A session's sandbox lives in a worker process, and the manager in the supervisor keeps
// its promises: state across evals, fork, hibernation and resumption, and a session whose
// process was killed between two evals wakes on the replacement from its saved state.
func TestSessionsLiveInProcesses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store func(t *testing.T) images.Store
	}{
		{"memory", func(*testing.T) images.Store { return nil }},
		{"store", func(t *testing.T) images.Store { return imageDir(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			p := newPool(t, 2)
			store := tt.store(t)
			m := newSessions(t, p, store, nil)
			if _, err := m.Create(ctx, "a", session.Options{}); err != nil {
				t.Fatal(err)
			}
			sessEval(t, m, "a", "let x = 40; function inc() { return ++x }", "")
			sessEval(t, m, "a", "inc(); inc()", "42")
			if _, err := m.Fork(ctx, "a", "b"); err != nil {
				t.Fatal(err)
			}
			sessEval(t, m, "b", "inc()", "43")
			sessEval(t, m, "a", "x", "42")
			if store != nil {
				if err := m.Hibernate(ctx, "a"); err != nil {
					t.Fatal(err)
				}
				if list, _ := m.List(ctx); len(list) != 2 || list[0].Live || !list[0].Hibernated {
					t.Fatalf("after Hibernate: %+v", list)
				}
				sessEval(t, m, "a", "inc()", "43")
			}
			// The sandbox is in the process the name places it on: killing that process
			// loses the live sandbox, not the session.
			idx := p.PlaceSession("a")
			pid := p.Processes()[idx]
			if err := killProcess(pid); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the process to be replaced", func() bool { return p.Restarts() == 1 })
			res, err := m.Eval(ctx, "a", "x", engine.Limits{})
			if err != nil || string(res.Value) != map[bool]string{true: "43", false: "42"}[store != nil] {
				t.Fatalf("after the process was killed: %v %s", err, res.Value)
			}
			if np := p.Processes()[idx]; np == pid || np == 0 {
				t.Fatalf("process %d not replaced: %d", idx, np)
			}
			if err := m.Drop(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Eval(ctx, "a", "x", engine.Limits{}); isoerr.CodeOf(err) != isoerr.NotFound {
				t.Fatalf("after Drop: %v", err)
			}
		})
	}
}

// A process killed under a session's eval: the eval gets its typed error, the session
// rolls back to its state before the call, and the next eval runs on the replacement
// process from that state. SIGKILL stands for a crash (sandbox_restarted), SIGSTOP for a
// process stuck in a built-in, which the watchdog kills at the eval's wall limit.
func TestSessionEvalWhenItsProcessDies(t *testing.T) {
	for _, tt := range []struct {
		name string
		stop bool // SIGSTOP, else SIGKILL
		lim  engine.Limits
		want isoerr.Code
	}{
		{"crash", false, engine.Limits{Wall: 10 * time.Minute}, isoerr.SandboxRestarted},
		{"watchdog", true, engine.Limits{Wall: 300 * time.Millisecond}, isoerr.WallTimeExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			p := newPool(t, 1)
			m := newSessions(t, p, imageDir(t), nil)
			if _, err := m.Create(ctx, "s", session.Options{}); err != nil {
				t.Fatal(err)
			}
			sessEval(t, m, "s", "var n = 1", "")
			pid := p.Processes()[0]
			if tt.stop {
				if err := stopProcess(pid); err != nil {
					t.Fatal(err)
				}
				waitStopped(t, pid)
			}
			done := make(chan error, 1)
			go func() {
				_, err := m.Eval(ctx, "s", "n = 2; await new Promise(r => setTimeout(r, 600000))", tt.lim)
				done <- err
			}()
			if !tt.stop {
				waitFor(t, "the eval to be sent", func() bool { return p.InFlight() == 1 })
				if err := killProcess(pid); err != nil {
					t.Fatal(err)
				}
			}
			err := <-done
			if isoerr.CodeOf(err) != tt.want || !session.RolledBack(err) {
				t.Fatalf("the eval whose process died: %v, want %s, rolled back", err, tt.want)
			}
			sessEval(t, m, "s", "n", "1")
			if np := p.Processes()[0]; np == pid {
				t.Fatal("the process was not replaced")
			}
		})
	}
}

// A session's memory limit holds in its process, and a session's fetch() goes through the
// supervisor's transport for that session.
func TestSessionLimitsAndOutbound(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "key="+r.Header.Get("X-Injected"))
	}))
	defer up.Close()
	ctx := context.Background()
	p := newPool(t, 1)
	m := newSessions(t, p, imageDir(t), injecting{http.DefaultTransport})
	if _, err := m.Create(ctx, "small", session.Options{Limits: loader.Limits{MemoryMB: 16}}); err != nil {
		t.Fatal(err)
	}
	sessEval(t, m, "small", "var kept = 1", "")
	_, err := m.Eval(ctx, "small", "kept = 2; new Uint8Array(32 << 20).length", engine.Limits{})
	if isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded || !session.RolledBack(err) {
		t.Fatalf("32 MiB in a 16 MiB session: %v", err)
	}
	sessEval(t, m, "small", "kept", "1")
	sessEval(t, m, "small", `async () => await (await fetch("`+up.URL+`")).text()`, `"key=s3cret"`)
	_, err = m.Eval(ctx, "small", "while (true) {}", engine.Limits{CPU: 20 * time.Millisecond})
	if isoerr.CodeOf(err) != isoerr.CPULimitExceeded || !session.RolledBack(err) {
		t.Fatalf("runaway eval: %v", err)
	}
	sessEval(t, m, "small", "kept", "1")
}

// The compile check gives the same answers in a process as in this one.
func TestPoolCompileMatchesInProcess(t *testing.T) {
	ctx := context.Background()
	l := inProcessLoader(t, engine.Limits{})
	p := newPool(t, 1)
	two := jsCode(`import { f } from "./lib.js"; export default { g() { return f() } }`)
	two.Modules["lib.js"] = loader.JS("export function h() {}")
	for _, tt := range []struct {
		name string
		code loader.WorkerCode
		want isoerr.Code
	}{
		{"ok", jsCode(counter), ""},
		{"syntax", jsCode("export default {\n  f() { return 1 +; }\n}"), isoerr.InvalidWorkerCode},
		{"missing module", jsCode(`import "./nope.js"; export default {}`), isoerr.InvalidWorkerCode},
		{"missing export", two, isoerr.InvalidWorkerCode},
		{"no main", loader.WorkerCode{MainModule: "x.js", Modules: map[string]loader.Module{"main.js": loader.JS("")}}, isoerr.InvalidWorkerCode},
	} {
		local, remote := l.Compile(ctx, tt.code), p.Compile(ctx, tt.code)
		if isoerr.CodeOf(remote) != tt.want {
			t.Errorf("%s: %v, want %q", tt.name, remote, tt.want)
		}
		le, re := isoerr.As(local), isoerr.As(remote)
		if (le == nil) != (re == nil) || le != nil && (le.Code != re.Code || le.Message != re.Message) {
			t.Errorf("%s: in process %v, in a process %v", tt.name, local, remote)
		}
	}
	if err := p.Compile(ctx, jsCode("export default {\n  f() { return 1 +; }\n}")); !strings.HasPrefix(isoerr.As(err).Message, "main.js:2:") {
		t.Errorf("the syntax error does not say where: %v", err)
	}
}

// sessionRecord is what the store holds for session name ("" when nothing).
func sessionRecord(t *testing.T, d *images.Dir, name string) []byte {
	t.Helper()
	b, err := d.Get(context.Background(), "session:"+name)
	if err != nil {
		return nil
	}
	return b
}

// A hostile worker process (hostileWorker below: it speaks the protocol but answers what it
// likes) cannot crash the supervisor nor get a state stored that the supervisor did not ask
// for: a garbled answer, an answer of another kind, a state larger than the session's
// memory allows, an answer sent to another call, a request for code and a frame over the
// limit each fail that eval with a typed error and roll the session back (and a request for
// code on a snippet's call is ignored); the store keeps
// the last state the supervisor accepted, and the other session's record is untouched.
func TestHostileProcessCannotCorruptSessions(t *testing.T) {
	ctx := context.Background()
	p, err := New(Config{Processes: 1, Command: hostileCommand, Defaults: engine.Limits{Wall: 30 * time.Second}, Margin: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	dir := imageDir(t)
	m := newSessions(t, p, dir, nil)
	for _, name := range []string{"a", "other"} {
		if _, err := m.Create(ctx, name, session.Options{Limits: loader.Limits{MemoryMB: 16}}); err != nil {
			t.Fatal(err)
		}
	}
	sessEval(t, m, "a", "ok-1", `"ok-1"`)
	other := sessionRecord(t, dir, "other")
	if !bytes.HasSuffix(sessionRecord(t, dir, "a"), []byte("state:ok-1")) || !bytes.HasSuffix(other, []byte("state:empty")) {
		t.Fatalf("records: %q %q", sessionRecord(t, dir, "a"), other)
	}
	// The wall limit leaves a loaded machine time to move a large frame; only "otherid"
	// waits for it to trip.
	for _, tt := range []struct {
		code string
		want isoerr.Code
		wall time.Duration
	}{
		{"garble", isoerr.Internal, 0},
		{"wrongtype", isoerr.Internal, 0},
		{"huge", isoerr.Internal, 0},
		{"otherid", isoerr.WallTimeExceeded, time.Second}, // no answer to this call: the watchdog ends it
		{"codereq", isoerr.Internal, 0},
		{"bigframe", isoerr.SandboxRestarted, 0}, // the connection is dropped, the process replaced
	} {
		wall := tt.wall
		if wall == 0 {
			wall = 20 * time.Second
		}
		_, err := m.Eval(ctx, "a", tt.code, engine.Limits{Wall: wall})
		if isoerr.CodeOf(err) != tt.want || !session.RolledBack(err) {
			t.Fatalf("%s: %v, want %s, rolled back", tt.code, err, tt.want)
		}
		if !bytes.HasSuffix(sessionRecord(t, dir, "a"), []byte("state:ok-1")) {
			t.Fatalf("%s: the record of a changed: %q", tt.code, sessionRecord(t, dir, "a"))
		}
	}
	if !bytes.Equal(sessionRecord(t, dir, "other"), other) {
		t.Fatal("the other session's record changed")
	}
	// The process woke a from the state the supervisor kept, and the supervisor still works:
	// frames that say "the eval ended" over and over do not block it.
	sessEval(t, m, "a", "restored?", `"from:state:ok-1"`)
	sessEval(t, m, "a", "spam", `"spam-ok"`)
	if err := p.Compile(ctx, jsCode("export default {}")); isoerr.CodeOf(err) != isoerr.Internal {
		t.Fatalf("a garbled compile answer: %v", err)
	}
	// A request for code on a call that has none (a snippet) is not answered with a crash.
	if res, err := p.Eval(ctx, "1", loader.EvalOptions{}); err != nil || string(res.Value) != "1" {
		t.Fatalf("eval: %v", err)
	}
}

// hostileEnv makes the test binary a hostile worker process.
const hostileEnv = "ISOBOX_SANDBOXPROC_TEST_HOSTILE"

func hostileCommand() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hostileEnv+"=1")
	return cmd
}

func init() {
	if os.Getenv(hostileEnv) == "1" {
		hostileWorker()
		os.Exit(0)
	}
}

// hostileWorker speaks the wire protocol on fd 3 and answers session evals as their code
// says: "ok-..." and "restored?" properly (its state is the text "state:<code>"), the
// others with what a compromised process could send.
func hostileWorker() {
	f := os.NewFile(WorkerFD, "supervisor")
	nc, err := net.FileConn(f)
	if err != nil {
		os.Exit(1)
	}
	c := &conn{rw: nc}
	r := bufio.NewReader(nc)
	hdr := make([]byte, headerSize)
	r = fakeHandshake(c, r, hdr, 1)
	states, memory := map[uint64][]byte{}, map[uint64]uint64{}
	answer := func(id uint64, rep sessionReply, img []byte) {
		b, _ := withImage(rep, img)
		_ = c.send(msgSessionReply, id, b)
	}
	for {
		typ, id, payload, err := readFrame(r, hdr)
		if err != nil {
			return
		}
		switch typ {
		case msgInvoke: // asks for code on a call that has none, then answers
			_ = c.send(msgCodeReq, id, nil)
			_ = c.sendJSON(msgResult, id, resultMsg{Value: json.RawMessage("1")})
		case msgCompile:
			_ = c.send(msgCompileReply, id, []byte("{not json"))
		case msgSession:
			var m sessionMsg
			img, err := splitImage(payload, &m)
			if err != nil {
				continue
			}
			switch m.Op {
			case "open":
				st := []byte("state:empty")
				if len(img) > 0 {
					st = append([]byte(nil), img...)
				}
				states[m.Handle], memory[m.Handle] = st, m.Memory
				answer(id, sessionReply{}, st)
			case "snapshot":
				answer(id, sessionReply{}, states[m.Handle])
			case "eval":
				switch code := m.Code; {
				case strings.HasPrefix(code, "ok-"):
					v, _ := json.Marshal(code)
					states[m.Handle] = []byte("state:" + code)
					answer(id, sessionReply{Value: v}, states[m.Handle])
				case code == "restored?":
					v, _ := json.Marshal("from:" + string(states[m.Handle]))
					answer(id, sessionReply{Value: v}, states[m.Handle])
				case code == "garble":
					_ = c.send(msgSessionReply, id, []byte{0, 0, 0, 200, '{'})
				case code == "wrongtype":
					_ = c.sendJSON(msgResult, id, resultMsg{Value: json.RawMessage("1")})
				case code == "huge":
					answer(id, sessionReply{Value: json.RawMessage("1")}, make([]byte, maxSessionImage(memory[m.Handle])+1))
				case code == "otherid":
					answer(id+1000, sessionReply{Value: json.RawMessage("1")}, []byte("state:evil"))
				case code == "codereq":
					_ = c.send(msgCodeReq, id, nil)
					_ = c.send(msgSessionReply, id, []byte("garbage"))
				case code == "bigframe":
					var h [headerSize]byte
					binary.BigEndian.PutUint32(h[:], maxFrame+1)
					h[4] = msgSessionReply
					binary.BigEndian.PutUint64(h[5:], id)
					c.wmu.Lock()
					_, _ = c.rw.Write(h[:]) // on the wire in use: the rings, or the socket without them
					c.wmu.Unlock()
				case code == "spam":
					for range 100 {
						_ = c.send(msgSessionEvaled, id, nil)
					}
					answer(id, sessionReply{Value: json.RawMessage(`"spam-ok"`)}, states[m.Handle])
				}
			}
		}
	}
}

// BenchmarkSessionEval measures what a session's eval costs with its sandbox in a worker
// process (the state crosses the boundary marshalled after every eval) beside one in this
// process, both without an image store (no disk write): RATIONALE §9.
//
//	go test ./internal/sandboxproc -run '^$' -bench SessionEval -benchtime 200x
func BenchmarkSessionEval(b *testing.B) {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	p, err := New(Config{Processes: 1, Command: testCommand, CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	for _, host := range []struct {
		name string
		h    session.Host
	}{{"in-process", session.InProcess(e)}, {"worker-process", p.SessionHost()}} {
		for _, st := range []struct{ name, setup string }{
			{"small", `globalThis.n = 0`},
			{"table", `globalThis.rows = Array.from({ length: 2000 }, (_, i) => ({ i, name: "row " + i })); globalThis.n = 0`},
		} {
			b.Run(host.name+"/"+st.name, func(b *testing.B) {
				m, err := session.New(session.Config{Host: host.h})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close(ctx)
				if _, err := m.Create(ctx, "s", session.Options{}); err != nil {
					b.Fatal(err)
				}
				if _, err := m.Eval(ctx, "s", st.setup, engine.Limits{}); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := m.Eval(ctx, "s", `n++; if (globalThis.rows) rows[n % rows.length].seen = n; n`, engine.Limits{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// A Python session's sandbox lives in a worker process too: its state across evals, a
// fork, a rollback after a limit, and a wake on the replacement of its killed process from
// the state the supervisor saved (the processes share the cache directory's Python base
// image, so the image restores there).
func TestPythonSessionsLiveInProcesses(t *testing.T) {
	ctx := context.Background()
	// Compiling CPython's module and making the Python base image take longer under -race
	// than an open's budget: do it here, into the cache directory the processes share.
	e, err := engine.New(ctx, engine.Config{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	warm, err := e.NewPythonSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	warm.Close(ctx)
	e.Close(ctx)
	p := newPool(t, 1)
	m := newSessions(t, p, imageDir(t), nil)
	if _, err := m.Create(ctx, "py", session.Options{Language: "python"}); err != nil {
		t.Fatal(err)
	}
	sessEval(t, m, "py", "import statistics\nxs = [1, 2, 3]\ndef mean():\n    return statistics.mean(xs)", "")
	sessEval(t, m, "py", "xs.append(6)\nmean()", "3")
	if _, err := m.Fork(ctx, "py", "copy"); err != nil {
		t.Fatal(err)
	}
	sessEval(t, m, "copy", "xs.append(100)\nlen(xs)", "5")
	sessEval(t, m, "py", "len(xs)", "4")
	_, err = m.Eval(ctx, "py", "xs.clear()\nwhile True:\n    pass", engine.Limits{CPU: 20 * time.Millisecond})
	if isoerr.CodeOf(err) != isoerr.CPULimitExceeded || !session.RolledBack(err) {
		t.Fatalf("runaway eval: %v", err)
	}
	sessEval(t, m, "py", "len(xs)", "4")
	pid := p.Processes()[0]
	if err := killProcess(pid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process to be replaced", func() bool { return p.Restarts() == 1 })
	sessEval(t, m, "py", "xs", "[1,2,3,6]")
	sessEval(t, m, "copy", "xs[-1]", "100")
}

// A session closed while its eval still runs in the worker process (the supervisor does
// not wait: an eval's answer goes out before its state is taken): the process frees the
// sandbox only once the operation is done with it. Run under -race, the test catches the
// free racing the snapshot; without the wait, the snapshot may read unmapped memory.
func TestSessionClosedDuringItsEval(t *testing.T) {
	ctx := context.Background()
	l := inProcessLoader(t, enginetest.Defaults)
	w := &workerSide{c: &conn{rw: discardRW{}}, l: l, calls: map[uint64]*workerCall{}}
	send := func(id uint64, m sessionMsg) {
		payload, err := withImage(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.session(ctx, id, payload)
	}
	idle := func() bool { w.mu.Lock(); defer w.mu.Unlock(); return len(w.calls) == 0 }
	for i := range 8 {
		h := uint64(100 + i)
		send(1, sessionMsg{Op: "open", Handle: h, Memory: 64 << 20})
		waitFor(t, "the open", idle)
		send(2, sessionMsg{Op: "eval", Handle: h, Code: "globalThis.keep = Array.from({ length: 60000 }, (_, i) => ({ i, s: 'x' + i })); 1"})
		waitFor(t, "the first eval", idle)
		w.mu.Lock()
		slot := w.sessions[h]
		w.mu.Unlock()
		if slot == nil {
			t.Fatalf("session %d did not open", h)
		}
		send(3, sessionMsg{Op: "eval", Handle: h, Code: "keep.length", Snapshot: true})
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		send(0, sessionMsg{Op: "close", Handle: h})
		waitFor(t, "the eval", idle)
		waitFor(t, "the close", func() bool { slot.mu.Lock(); defer slot.mu.Unlock(); return slot.closed })
	}
}

// discardRW is a connection whose writes go nowhere.
type discardRW struct{}

func (discardRW) Read([]byte) (int, error)    { return 0, io.EOF }
func (discardRW) Write(b []byte) (int, error) { return len(b), nil }
func (discardRW) Close() error                { return nil }
