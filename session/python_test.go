package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
)

var python = session.Options{Language: "python"}

// A Python session is a REPL: variables, functions and imports stay from one eval to the
// next, the last expression is the value, print goes to the logs; forks are independent.
func TestPythonSessionKeepsStateAndForks(t *testing.T) {
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
			info, err := m.Create(ctx, "py", python)
			if err != nil {
				t.Fatal(err)
			}
			if info.Language != api.LanguagePython {
				t.Fatalf("created session's language %q, want python", info.Language)
			}
			evalOK(t, m, "py", "import csv, io\nx = 40\ndef inc():\n    global x\n    x += 1\n    return x", "")
			res, err := m.Eval(ctx, "py", "inc()\nprint('at', x)\ninc()", engine.Limits{})
			if err != nil || string(res.Value) != "42" || len(res.Logs) != 1 || res.Logs[0].Message != "at 41" {
				t.Fatalf("eval: %+v, %v", res, err)
			}
			if _, err := m.Fork(ctx, "py", "copy"); err != nil {
				t.Fatal(err)
			}
			evalOK(t, m, "copy", "x = 100\n[x, inc(), 'csv' in dir()]", "[100,101,true]")
			evalOK(t, m, "py", "x", "42")
			// Exceptions are the code's own outcome: what ran before them is kept.
			if _, err := m.Eval(ctx, "py", "x = 7\nraise ValueError('boom')", engine.Limits{}); isoerr.CodeOf(err) != isoerr.WorkerException || err.Error() == "" || session.RolledBack(err) {
				t.Fatalf("raise: %v", err)
			}
			evalOK(t, m, "py", "x", "7")
			// A JavaScript session beside it is unaffected.
			create(t, m, "js", session.Options{})
			evalOK(t, m, "js", "typeof x", `"undefined"`)
		})
	}
}

// A Python session's state is on disk after every eval: another manager on the same store
// (a restart) finds it, with the session's language and limits.
func TestPythonSessionSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	first := newManager(t, newDir2(t, path), 0)
	create(t, first, "py", session.Options{Language: "python", Limits: loader.Limits{CPUMs: 20}})
	evalOK(t, first, "py", "import json\ndata = {'n': 1}\njson.dumps(data)", `"{\"n\": 1}"`)
	first.Close(ctx)
	after := newManager(t, newDir2(t, path), 0)
	if info, err := after.Get(ctx, "py"); err != nil || info.Language != api.LanguagePython {
		t.Fatalf("Get after a restart: %+v %v", info, err)
	}
	if _, err := after.Get(ctx, "nope"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("Get of a missing session: %v", err)
	}
	evalOK(t, after, "py", "data['n'] += 1\ndata", `{"n":2}`)
	if _, err := after.Eval(ctx, "py", "while True:\n    pass", engine.Limits{CPU: 30 * time.Second}); isoerr.CodeOf(err) != isoerr.CPULimitExceeded || !strings.Contains(err.Error(), "20ms") {
		t.Fatalf("the session's CPU limit after a restart: %v", err)
	}
}

// A call a limit stops is rolled back, as in JavaScript, even one that catches
// BaseException.
func TestPythonSessionRollsBackAfterALimit(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, newDir(t), 0)
	create(t, m, "l", session.Options{Language: "python", Limits: loader.Limits{MemoryMB: 64}})
	evalOK(t, m, "l", "saved = 2\nsaved", "2")
	for _, tt := range []struct {
		code string
		lim  engine.Limits
		want isoerr.Code
	}{
		{"saved = 3\nwhile True:\n    pass", engine.Limits{CPU: 20 * time.Millisecond}, isoerr.CPULimitExceeded},
		{"saved = 4\nwhile True:\n    try:\n        while True: pass\n    except BaseException:\n        pass", engine.Limits{CPU: 20 * time.Millisecond}, isoerr.CPULimitExceeded},
		{"import time\nsaved = 5\ntime.sleep(100)", engine.Limits{Wall: 50 * time.Millisecond}, isoerr.WallTimeExceeded},
		{"saved = 6\nkeep = []\nwhile True:\n    keep.append(' ' * 10**6)", engine.Limits{CPU: 30 * time.Second}, isoerr.MemoryLimitExceeded},
		{"saved = 7\n'x' * 5000", engine.Limits{Output: 1000}, isoerr.OutputLimitExceeded},
	} {
		_, err := m.Eval(ctx, "l", tt.code, tt.lim)
		if isoerr.CodeOf(err) != tt.want || !session.RolledBack(err) {
			t.Fatalf("%q: %v, want %s, rolled back", tt.code, err, tt.want)
		}
		evalOK(t, m, "l", "saved", "2")
	}
}

func TestSessionUnknownLanguage(t *testing.T) {
	m := newManager(t, nil, 0)
	_, err := m.Create(context.Background(), "s", session.Options{Language: "ruby"})
	if isoerr.CodeOf(err) != isoerr.InvalidRequest || !strings.Contains(err.Error(), `"ruby"`) {
		t.Fatalf("unknown language: %v, want invalid_request naming it", err)
	}
	if list, _ := m.List(context.Background()); len(list) != 0 {
		t.Fatalf("a failed create kept a session: %+v", list)
	}
}
