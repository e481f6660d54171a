package session_test

import (
	"context"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/session"
)

// The states the benchmarks' sessions hold: a few variables ("small", an image of ~10
// KiB), and a REPL that has built a table of 2,000 objects ("table").
var states = []struct{ name, setup string }{
	{"small", `var notes = ["one"]; var n = 0`},
	{"table", `var rows = Array.from({ length: 2000 }, (_, i) => ({ i, name: "row " + i })); var n = 0`},
}

// step is one eval that changes the state.
const step = `n++; if (globalThis.rows) rows[n % rows.length].seen = n; n`

// BenchmarkSessionEval measures what keeping a session's promises costs per eval: "bare" is
// the eval in a plain sandbox; "memory" adds taking the state after the call (snapshot +
// marshal; what rollback needs); "disk" adds writing it durably (fsync) to an image store
// on the file system of the test's temporary directory, as isobox serve does.
//
//	go test ./session -run '^$' -bench SessionEval -benchtime 200x
func BenchmarkSessionEval(b *testing.B) {
	for _, st := range states {
		b.Run(st.name, func(b *testing.B) { benchSessionEval(b, st.setup) })
	}
}

func benchSessionEval(b *testing.B, setup string) {
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer sb.Close(ctx)
		if _, err := sb.Eval(ctx, engine.Limits{}, setup); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := sb.Eval(ctx, engine.Limits{}, step); err != nil {
				b.Fatal(err)
			}
		}
		img, _ := sb.Snapshot()
		raw, _ := img.Marshal()
		b.ReportMetric(float64(img.Size())/1024, "KiB-changed")
		b.ReportMetric(float64(len(raw))/1024, "KiB-image")
	})
	for _, tt := range []struct {
		name  string
		store func(b *testing.B) images.Store
	}{
		{"memory", func(*testing.B) images.Store { return nil }},
		{"disk", func(b *testing.B) images.Store { return newDir(b) }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			m := newManager(b, tt.store(b), 0)
			create(b, m, "bench", session.Options{})
			if _, err := m.Eval(ctx, "bench", setup, engine.Limits{}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := m.Eval(ctx, "bench", step, engine.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPreCallState compares the ways to keep a session's state before a call, for
// rolling back: forking the live sandbox before the call, or the image taken after the
// previous call, in memory (snapshot) or marshalled as the store keeps it (what durability
// needs anyway).
func BenchmarkPreCallState(b *testing.B) {
	for _, st := range states {
		b.Run(st.name, func(b *testing.B) { benchPreCallState(b, st.setup) })
	}
}

func benchPreCallState(b *testing.B, setup string) {
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Eval(ctx, engine.Limits{}, setup); err != nil {
		b.Fatal(err)
	}
	b.Run("fork", func(b *testing.B) {
		for b.Loop() {
			child, err := sb.Fork(ctx)
			if err != nil {
				b.Fatal(err)
			}
			child.Close(ctx)
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			if _, err := sb.Snapshot(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("snapshot+marshal", func(b *testing.B) {
		for b.Loop() {
			img, err := sb.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := img.Marshal(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
