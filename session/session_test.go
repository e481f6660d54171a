package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/session"
)

var testEngine *engine.Engine

func TestMain(m *testing.M) { enginetest.Main(m, &testEngine) }

func newManager(t *testing.T, store images.Store, ttl time.Duration) *session.Manager {
	t.Helper()
	m, err := session.New(session.Config{Engine: testEngine, Images: store, IdleTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func evalOK(t *testing.T, m *session.Manager, name, code, want string) {
	t.Helper()
	res, err := m.Eval(context.Background(), name, code, engine.Limits{}, true)
	if err != nil {
		t.Fatalf("%s: eval %q: %v", name, code, err)
	}
	if string(res.Value) != want {
		t.Fatalf("%s: eval %q = %s, want %s", name, code, res.Value, want)
	}
}

func TestSessionKeepsState(t *testing.T) {
	m := newManager(t, nil, 0)
	evalOK(t, m, "repl", "let x = 40; function inc() { return ++x }", "")
	evalOK(t, m, "repl", "inc(); inc()", "42")
	evalOK(t, m, "other", "typeof x", `"undefined"`)
	if _, err := m.Eval(context.Background(), "missing", "1", engine.Limits{}, false); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("eval without create: %v", err)
	}
	for _, bad := range []string{"", "../x", "a b", "-x", string(make([]byte, 200))} {
		if _, err := m.Eval(context.Background(), bad, "1", engine.Limits{}, true); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("name %q: %v", bad, err)
		}
	}
}

func TestSessionFork(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil, 0)
	evalOK(t, m, "a", "var items = ['base']; items.length", "1")
	if err := m.Fork(ctx, "a", "b"); err != nil {
		t.Fatal(err)
	}
	evalOK(t, m, "b", "items.push('b'); items", `["base","b"]`)
	evalOK(t, m, "a", "items.push('a'); items", `["base","a"]`)
	if err := m.Fork(ctx, "a", "b"); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("fork onto an existing session: %v", err)
	}
	if err := m.Fork(ctx, "nope", "c"); isoerr.CodeOf(err) != isoerr.NotFound {
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
}

// Sessions hibernate when idle and across a restart, and resume with their globals.
func TestSessionHibernation(t *testing.T) {
	ctx := context.Background()
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, dir, 30*time.Millisecond)
	evalOK(t, m, "h", "const notes = ['one']; notes.length", "1")
	deadline := time.Now().Add(10 * time.Second)
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
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// A new manager (a new process) picks the session up from the store.
	m2 := newManager(t, dir, 0)
	evalOK(t, m2, "h", "notes.push('three'); notes", `["one","two","three"]`)
	if _, err := m2.Eval(ctx, "h", "1", engine.Limits{}, false); err != nil {
		t.Fatalf("hibernated session is not found: %v", err)
	}
}

// After a limit trips, the session goes back to its last hibernated state.
func TestSessionAfterLimit(t *testing.T) {
	ctx := context.Background()
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, dir, 0)
	evalOK(t, m, "l", "var saved = 1; saved", "1")
	if err := m.Hibernate(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	evalOK(t, m, "l", "saved = 2; saved", "2")
	if _, err := m.Eval(ctx, "l", "while (true) {}", engine.Limits{CPU: 20 * time.Millisecond}, false); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("runaway: %v", err)
	}
	evalOK(t, m, "l", "saved", "1")
}
