package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
)

var testEngine *engine.Engine

func TestMain(m *testing.M) { enginetest.Main(m, &testEngine) }

func newManager(t testing.TB, store images.Store, ttl time.Duration) *session.Manager {
	t.Helper()
	m, err := session.New(session.Config{Engine: testEngine, Images: store, IdleTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func newDir(t testing.TB) *images.Dir {
	t.Helper()
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func create(t testing.TB, m *session.Manager, name string, opts session.Options) {
	t.Helper()
	if _, err := m.Create(context.Background(), name, opts); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func evalOK(t testing.TB, m *session.Manager, name, code, want string) {
	t.Helper()
	res, err := m.Eval(context.Background(), name, code, engine.Limits{})
	if err != nil {
		t.Fatalf("%s: eval %q: %v", name, code, err)
	}
	if string(res.Value) != want {
		t.Fatalf("%s: eval %q = %s, want %s", name, code, res.Value, want)
	}
}

func TestSessionKeepsState(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil, 0)
	create(t, m, "repl", session.Options{})
	create(t, m, "other", session.Options{})
	evalOK(t, m, "repl", "let x = 40; function inc() { return ++x }", "")
	evalOK(t, m, "repl", "inc(); inc()", "42")
	evalOK(t, m, "other", "typeof x", `"undefined"`)
	if _, err := m.Eval(ctx, "missing", "1", engine.Limits{}); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("eval in a session that does not exist: %v", err)
	}
	if list, _ := m.List(ctx); len(list) != 2 {
		t.Fatalf("an eval in a missing session made one: %+v", list)
	}
	if _, err := m.Create(ctx, "repl", session.Options{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("create over an existing session: %v", err)
	}
	for _, bad := range []string{"", "../x", "a b", "-x", string(make([]byte, 200))} {
		if _, err := m.Create(ctx, bad, session.Options{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("create %q: %v", bad, err)
		}
		if _, err := m.Eval(ctx, bad, "1", engine.Limits{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("eval in %q: %v", bad, err)
		}
	}
}

func TestSessionBadOptions(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil, 0)
	for _, opts := range []session.Options{
		{Limits: loader.Limits{CPUMs: -1}},
		{Limits: loader.Limits{CPUMs: 30001}},
		{Limits: loader.Limits{MemoryMB: 1}},
		{Limits: loader.Limits{SubRequests: -1}},
		{GlobalOutbound: []byte(`{"rules":[]}`)}, // this manager has no Outbound
	} {
		if _, err := m.Create(ctx, "s", opts); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("create with %+v: %v", opts, err)
		}
	}
	create(t, m, "s", session.Options{})
	if _, err := m.Eval(ctx, "s", "1", engine.Limits{Memory: 64 << 20}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("an eval that sets memory: %v", err)
	}
	if _, err := m.Eval(ctx, "s", "1", engine.Limits{CPU: -time.Second}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("an eval with a negative limit: %v", err)
	}
}

func TestSessionFork(t *testing.T) {
	ctx := context.Background()
	for _, store := range []struct {
		name  string
		store func(t *testing.T) images.Store
	}{
		{"memory", func(*testing.T) images.Store { return nil }},
		{"store", func(t *testing.T) images.Store { return newDir(t) }},
	} {
		t.Run(store.name, func(t *testing.T) {
			m := newManager(t, store.store(t), 0)
			create(t, m, "a", session.Options{})
			evalOK(t, m, "a", "var items = ['base']; items.length", "1")
			info, err := m.Fork(ctx, "a", "b")
			if err != nil || info.Name != "b" {
				t.Fatalf("fork: %+v %v", info, err)
			}
			evalOK(t, m, "b", "items.push('b'); items", `["base","b"]`)
			evalOK(t, m, "a", "items.push('a'); items", `["base","a"]`)
			if _, err := m.Fork(ctx, "a", "b"); isoerr.CodeOf(err) != isoerr.InvalidRequest {
				t.Fatalf("fork onto an existing session: %v", err)
			}
			if _, err := m.Fork(ctx, "nope", "c"); isoerr.CodeOf(err) != isoerr.NotFound {
				t.Fatalf("fork of a missing session: %v", err)
			}
			if err := m.Drop(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			if err := m.Drop(ctx, "b"); isoerr.CodeOf(err) != isoerr.NotFound {
				t.Fatalf("second drop: %v", err)
			}
			list, err := m.List(ctx)
			if err != nil || len(list) != 1 || list[0].Name != "a" || !list[0].Live {
				t.Fatalf("list %+v %v", list, err)
			}
		})
	}
}

// Sessions hibernate when idle and resume with their globals.
func TestSessionHibernation(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t)
	m := newManager(t, dir, 30*time.Millisecond)
	create(t, m, "h", session.Options{})
	evalOK(t, m, "h", "const notes = ['one']; notes.length", "1")
	deadline := time.Now().Add(time.Minute) // a hang guard
	for {
		list, _ := m.List(ctx)
		if len(list) == 1 && list[0].Hibernated && !list[0].Live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session never hibernated: %+v", list)
		}
		time.Sleep(5 * time.Millisecond)
	}
	evalOK(t, m, "h", "notes.push('two'); notes", `["one","two"]`)
}

// With an image store, the state after every eval that returned is in the store: a new
// manager on the same store (a new process after a crash: the first manager is never
// closed) finds every session as the last call left it, with its options.
func TestSessionStateIsSavedAfterEveryEval(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	dir, err := images.NewDir(path)
	if err != nil {
		t.Fatal(err)
	}
	crashed, err := session.New(session.Config{Engine: testEngine, Images: dir})
	if err != nil {
		t.Fatal(err)
	}
	create(t, crashed, "empty", session.Options{})
	create(t, crashed, "small", session.Options{Limits: loader.Limits{MemoryMB: 16, CPUMs: 20}})
	for i := 1; i <= 5; i++ {
		evalOK(t, crashed, "small", "globalThis.n = (globalThis.n ?? 0) + 1", string(rune('0'+i)))
		// What another process sees now.
		dir2, err := images.NewDir(path)
		if err != nil {
			t.Fatal(err)
		}
		evalOK(t, newManager(t, dir2, 0), "small", "n", string(rune('0'+i)))
	}
	if _, err := crashed.Eval(ctx, "small", "n = 100; throw new Error('boom')", engine.Limits{}); isoerr.CodeOf(err) != isoerr.WorkerException {
		t.Fatalf("throw: %v", err)
	}
	if _, err := crashed.Fork(ctx, "small", "copy"); err != nil {
		t.Fatal(err)
	}
	after := newManager(t, newDir2(t, path), 0)
	evalOK(t, after, "small", "n", "100") // an exception's effects are kept
	evalOK(t, after, "copy", "n", "100")  // a fork is saved when Fork returns
	evalOK(t, after, "empty", "typeof n", `"undefined"`)
	// The options came back with the session: 16 MiB of memory and 20 ms of CPU.
	if _, err := after.Eval(ctx, "small", "new Uint8Array(32 << 20).length", engine.Limits{}); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("32 MiB in a 16 MiB session after a restart: %v", err)
	}
	if _, err := after.Eval(ctx, "copy", "while (true) {}", engine.Limits{CPU: 30 * time.Second}); isoerr.CodeOf(err) != isoerr.CPULimitExceeded || !strings.Contains(err.Error(), "20ms") {
		t.Fatalf("the fork's CPU limit after a restart: %v", err)
	}
	crashed.Close(ctx)
}

func newDir2(t *testing.T, path string) *images.Dir {
	t.Helper()
	d, err := images.NewDir(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A call that a limit stops leaves no trace: the session goes back to its state before the
// call (not to an older one) and the error says so.
func TestSessionRollsBackAfterALimit(t *testing.T) {
	ctx := context.Background()
	for _, store := range []struct {
		name  string
		store func(t *testing.T) images.Store
	}{
		{"memory", func(*testing.T) images.Store { return nil }},
		{"store", func(t *testing.T) images.Store { return newDir(t) }},
	} {
		t.Run(store.name, func(t *testing.T) {
			m := newManager(t, store.store(t), 0)
			create(t, m, "l", session.Options{Limits: loader.Limits{MemoryMB: 32}})
			evalOK(t, m, "l", "var saved = 1; saved", "1")
			evalOK(t, m, "l", "saved = 2; saved", "2")
			for _, tt := range []struct {
				code string
				lim  engine.Limits
				want isoerr.Code
			}{
				{"saved = 3; while (true) {}", engine.Limits{CPU: 20 * time.Millisecond}, isoerr.CPULimitExceeded},
				{"async () => { saved = 4; await new Promise(r => setTimeout(r, 1e9)) }", engine.Limits{Wall: 50 * time.Millisecond}, isoerr.WallTimeExceeded},
				{"saved = 5; const keep = []; while (true) keep.push(new Uint8Array(1 << 20))", engine.Limits{CPU: 30 * time.Second}, isoerr.MemoryLimitExceeded},
				{"saved = 6; 'x'.repeat(5000)", engine.Limits{Output: 1000}, isoerr.OutputLimitExceeded},
			} {
				_, err := m.Eval(ctx, "l", tt.code, tt.lim)
				if isoerr.CodeOf(err) != tt.want || !session.RolledBack(err) || !strings.Contains(err.Error(), "the session was restored to its state before this call") {
					t.Fatalf("%q: %v, want %s, rolled back", tt.code, err, tt.want)
				}
				evalOK(t, m, "l", "saved", "2")
			}
			// A canceled call is rolled back too.
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(20*time.Millisecond, cancel)
			if _, err := m.Eval(cctx, "l", "saved = 7; while (true) {}", engine.Limits{CPU: 30 * time.Second}); isoerr.CodeOf(err) != isoerr.Canceled || !session.RolledBack(err) {
				t.Fatalf("canceled: %v", err)
			}
			evalOK(t, m, "l", "saved", "2")
			_, err := m.Eval(ctx, "l", "saved = 8; throw new Error('mine')", engine.Limits{})
			if isoerr.CodeOf(err) != isoerr.WorkerException || session.RolledBack(err) {
				t.Fatalf("an exception is the code's own outcome, not rolled back: %v", err)
			}
			evalOK(t, m, "l", "saved", "8")
		})
	}
}

// failingStore is an image store whose Puts fail while fail is set: a full or broken disk.
type failingStore struct {
	*images.Dir
	fail atomic.Bool
}

func (f *failingStore) Put(ctx context.Context, key string, b []byte) error {
	if f.fail.Load() {
		return errors.New("no space left on device")
	}
	return f.Dir.Put(ctx, key, b)
}

// A state that cannot be saved is not acknowledged: the call fails and the session stays as
// the store has it.
func TestSessionSaveFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{Dir: newDir(t)}
	m := newManager(t, store, 0)
	create(t, m, "d", session.Options{})
	evalOK(t, m, "d", "var v = 1", "")
	store.fail.Store(true)
	_, err := m.Eval(ctx, "d", "v = 2", engine.Limits{})
	if isoerr.CodeOf(err) != isoerr.Internal || !session.RolledBack(err) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("eval whose state cannot be saved: %v", err)
	}
	if _, err := m.Create(ctx, "e", session.Options{}); err == nil {
		t.Fatal("a session that could not be saved was created")
	}
	if _, err := m.Fork(ctx, "d", "f"); err == nil {
		t.Fatal("a fork that could not be saved was made")
	}
	store.fail.Store(false)
	evalOK(t, m, "d", "v", "1")
	if list, _ := m.List(ctx); len(list) != 1 {
		t.Fatalf("failed creations left sessions: %+v", list)
	}
}

// Sessions take an egress transport made from their GlobalOutbound.
func TestSessionOutbound(t *testing.T) {
	ctx := context.Background()
	var policies []string
	m, err := session.New(session.Config{Engine: testEngine, Outbound: func(name string, policy json.RawMessage) (http.RoundTripper, error) {
		if string(policy) == `"bad"` {
			return nil, errors.New("not a policy")
		}
		policies = append(policies, name+"="+string(policy))
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			return nil, isoerr.New("egress_denied", "%s: policy %s", r.URL, policy)
		}), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if _, err := m.Create(ctx, "bad", session.Options{GlobalOutbound: []byte(`"bad"`)}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("a policy Outbound refuses: %v", err)
	}
	create(t, m, "p", session.Options{GlobalOutbound: []byte(`{"rules":[]}`)})
	_, err = m.Eval(ctx, "p", `async () => (await fetch("http://example.com/")).status`, engine.Limits{})
	if err == nil || !strings.Contains(err.Error(), `policy {"rules":[]}`) {
		t.Fatalf("fetch did not go through the session's transport: %v", err)
	}
	if len(policies) == 0 || policies[len(policies)-1] != `p={"rules":[]}` {
		t.Fatalf("Outbound calls: %q", policies)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A session saved before sessions had options (a bare image) still opens.
func TestSessionBareImage(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	m := newManager(t, newDir2(t, path), 0)
	create(t, m, "old", session.Options{})
	evalOK(t, m, "old", "var kept = 'yes'", "")
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Eval(ctx, engine.Limits{}, "var kept = 'bare'"); err != nil {
		t.Fatal(err)
	}
	img, _ := sb.Snapshot()
	b, _ := img.Marshal()
	if err := newDir2(t, path).Put(ctx, "session:bare", b); err != nil {
		t.Fatal(err)
	}
	evalOK(t, newManager(t, newDir2(t, path), 0), "bare", "kept", `"bare"`)
	// A record cut short is refused with an error, not read as something else.
	files, _ := filepath.Glob(filepath.Join(path, "*.img"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasPrefix(string(b), "ISOBOXSESSION1\n") {
			os.WriteFile(f, b[:len("ISOBOXSESSION1\n")+2], 0o600)
		}
	}
	if _, err := newManager(t, newDir2(t, path), 0).Eval(ctx, "old", "kept", engine.Limits{}); err == nil {
		t.Fatal("a truncated record opened")
	}
}
