package session_test

import (
	"context"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/session"
)

// The states of the Python benchmarks' sessions: a few variables, and a table of 2,000
// dicts (as the JavaScript ones).
var pyStates = []struct{ name, setup string }{
	{"small", "notes = ['one']\nn = 0"},
	{"table", "rows = [{'i': i, 'name': 'row %d' % i} for i in range(2000)]\nn = 0"},
}

const pyStep = "n += 1\nif 'rows' in globals(): rows[n % len(rows)]['seen'] = n\nn"

// BenchmarkPythonSession measures a Python session's costs: an eval in a bare sandbox, an
// eval in a session without and with an image store (snapshot, marshal, fsync), and the
// parts: snapshot, snapshot+marshal, restore from a marshalled image, fork.
//
//	go test ./session -run '^$' -bench PythonSession -benchtime 100x
func BenchmarkPythonSession(b *testing.B) {
	ctx := context.Background()
	for _, st := range pyStates {
		b.Run(st.name, func(b *testing.B) {
			sb, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(ctx)
			if _, err := sb.Eval(ctx, engine.Limits{}, st.setup); err != nil {
				b.Fatal(err)
			}
			b.Run("bare", func(b *testing.B) {
				for b.Loop() {
					if _, err := sb.Eval(ctx, engine.Limits{}, pyStep); err != nil {
						b.Fatal(err)
					}
				}
			})
			img, err := sb.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := img.Marshal()
			b.Run("snapshot", func(b *testing.B) {
				for b.Loop() {
					if _, err := sb.Snapshot(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(img.Size())/1024, "KiB-changed")
				b.ReportMetric(float64(len(raw))/1024, "KiB-image")
			})
			b.Run("snapshot+marshal", func(b *testing.B) {
				for b.Loop() {
					img, err := sb.Snapshot()
					if err == nil {
						_, err = img.Marshal()
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("restore", func(b *testing.B) {
				for b.Loop() {
					img, err := testEngine.UnmarshalImage(raw)
					if err != nil {
						b.Fatal(err)
					}
					r, err := testEngine.RestorePython(ctx, img, engine.SandboxConfig{})
					if err != nil {
						b.Fatal(err)
					}
					r.Close(ctx)
				}
			})
			b.Run("fork", func(b *testing.B) {
				for b.Loop() {
					f, err := sb.Fork(ctx)
					if err != nil {
						b.Fatal(err)
					}
					f.Close(ctx)
				}
			})
			for _, tt := range []struct {
				name  string
				store func(b *testing.B) images.Store
			}{
				{"session-memory", func(*testing.B) images.Store { return nil }},
				{"session-disk", func(b *testing.B) images.Store { return newDir(b) }},
			} {
				b.Run(tt.name, func(b *testing.B) {
					m := newManager(b, tt.store(b), 0)
					create(b, m, "bench", session.Options{Language: "python"})
					if _, err := m.Eval(ctx, "bench", st.setup, engine.Limits{}); err != nil {
						b.Fatal(err)
					}
					for b.Loop() {
						if _, err := m.Eval(ctx, "bench", pyStep, engine.Limits{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
