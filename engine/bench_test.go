package engine_test

import (
	"context"
	"testing"

	"github.com/isobox/isobox/engine"
)

const fib = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) } fib(27)"

// BenchmarkFib compares the two ways of stopping guest code on wazero: QuickJS's interrupt
// handler polling a host import (what isobox uses) and wazero's WithCloseOnContextDone
// (checks compiled into every loop and call).
func BenchmarkFib(b *testing.B) {
	for _, mode := range []struct {
		name  string
		close bool
	}{{"interrupt-handler", false}, {"close-on-context-done", true}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			e, err := engine.New(ctx, engine.Config{CacheDir: b.TempDir(), CloseOnContextDone: mode.close})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(ctx)
			sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(ctx)
			b.ResetTimer()
			for b.Loop() {
				res, err := sb.Eval(ctx, engine.Limits{CPU: engine.MaxCPU}, fib)
				if err != nil || string(res.Value) != "196418" {
					b.Fatalf("fib: %s %v", res.Value, err)
				}
			}
		})
	}
}

// BenchmarkThrow is an exception thrown and caught in the guest: a primitive, an Error made
// before (rethrown: its stack is kept from where it was made), and an Error made each time
// (its stack is built then). QuickJS-ng built a backtrace on every throw; ours builds one
// only for an Error that has none (engine/js/build/patches/0004).
func BenchmarkThrow(b *testing.B) {
	for _, tt := range []struct{ name, throw string }{
		{"primitive", "1"}, {"rethrown-error", "made"}, {"new-error", "new Error('x')"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			ctx := context.Background()
			sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(ctx)
			code := "{ const made = new Error('made'); let n = 0; for (let i = 0; i < 1000; i++) { try { throw " + tt.throw + " } catch { n++ } } n }"
			for b.Loop() {
				res, err := sb.Eval(ctx, engine.Limits{CPU: engine.MaxCPU}, code)
				if err != nil || string(res.Value) != "1000" {
					b.Fatalf("%s %v", res.Value, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000/1000, "µs/throw")
		})
	}
}

// BenchmarkFirstCalls is a new sandbox's load and first fetch, with its native stack as
// restored (10 KiB, grown and copied as the calls need) and grown first, as a pooled
// sandbox's is while it waits (Sandbox.growStack): the difference is what the pool takes
// off the request path.
func BenchmarkFirstCalls(b *testing.B) {
	for _, grow := range []bool{false, true} {
		b.Run(map[bool]string{false: "as-restored", true: "grown"}[grow], func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(`export default { fetch() { return new Response("hi") } };`)}}})
				if err != nil {
					b.Fatal(err)
				}
				if grow {
					engine.GrowStack(sb)
				}
				b.StartTimer()
				if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
					b.Fatal(err)
				}
				if _, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				sb.Close(ctx)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkNewSandbox is the cost of a sandbox with the runtime ready and no code.
func BenchmarkNewSandbox(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		sb.Close(ctx)
	}
}

// BenchmarkEvalWarm is one eval in an existing sandbox.
func BenchmarkEvalWarm(b *testing.B) {
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	for b.Loop() {
		if _, err := sb.Eval(ctx, engine.Limits{}, "1+1"); err != nil {
			b.Fatal(err)
		}
	}
}

// idleWorker is a sandbox with a small stateful worker loaded and called once: what the
// loader keeps warm between calls.
func idleWorker(b *testing.B) *engine.Sandbox {
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{
		"main.js": {Type: "js", Content: []byte(`let n = 0; export default { fetch() { return new Response(String(++n)) } }`)}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sb.Close(ctx) })
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		b.Fatal(err)
	}
	if _, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w/"}, nil); err != nil {
		b.Fatal(err)
	}
	return sb
}

// BenchmarkResidentBytes is the cost of measuring an idle sandbox's private memory (the
// loader's memory budget counts it).
func BenchmarkResidentBytes(b *testing.B) {
	sb := idleWorker(b)
	b.ReportMetric(float64(sb.MemoryBytes()>>10), "memory-KiB")
	var n int
	for b.Loop() {
		n = sb.ResidentBytes()
	}
	b.ReportMetric(float64(n>>10), "resident-KiB")
}

// BenchmarkTrim is the cost of trimming an idle sandbox (the loader does it a second after
// a sandbox goes idle).
func BenchmarkTrim(b *testing.B) {
	sb := idleWorker(b)
	for b.Loop() {
		sb.Trim()
	}
	b.ReportMetric(float64(sb.ResidentBytes()>>10), "resident-KiB")
}

// BenchmarkHibernate is what evicting an idle worker to an image store costs in the
// engine: a snapshot of its changed pages and their serialization (without the write).
func BenchmarkHibernate(b *testing.B) {
	sb := idleWorker(b)
	var n int
	for b.Loop() {
		img, err := sb.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		out, err := img.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n)/1024, "image-KiB")
}

// BenchmarkResumeImage is what bringing a hibernated worker back costs in the engine:
// reading its serialized image and restoring a sandbox from it (without the read).
func BenchmarkResumeImage(b *testing.B) {
	ctx := context.Background()
	img, err := idleWorker(b).Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	data, err := img.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		img, err := testEngine.UnmarshalImage(data)
		if err != nil {
			b.Fatal(err)
		}
		sb, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		sb.Close(ctx)
	}
}
