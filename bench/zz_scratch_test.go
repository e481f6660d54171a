package bench

import (
	"runtime"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

func minflt() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru)
	return ru.Minflt
}

func TestZZApp(t *testing.T) {
	ctx := context.Background()
	runtime.LockOSThread()
	src, hono, err := AppSource("/work/shared/anchors/workerd")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"package.json": fmt.Appendf(nil, `{"name": "anchor-app", "private": true, "type": "module", "main": "src.js", "dependencies": {"hono": %q}}`, hono),
		"src.js":       src,
	}
	b, err := bundle.New(bundle.Options{CacheDir: os.Getenv("HOME") + "/.cache/isobox"}).Build(ctx, bundle.Project{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(ctx, engine.Config{CacheDir: os.Getenv("HOME") + "/.cache/isobox"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	code := b.Code

	n := 200
	l, _ := loader.New(loader.Config{Engine: e, MaxWorkers: n + 1})
	defer l.Close(ctx)
	var cold, second []time.Duration
	var fc, fs []int64
	for i := range n {
		wc := loader.FromAPI(code)
		wc.Modules = map[string]api.Module{}
		for k, m := range code.Modules {
			wc.Modules[k] = m
		}
		main := code.Modules[code.MainModule]
		if v := os.Getenv("ZZMAIN"); v != "" {
			wc.Modules[code.MainModule] = api.JS(fmt.Sprintf("// %d\n", i) + v)
		} else {
		wc.Modules[code.MainModule] = api.JS(fmt.Sprintf("// app %d\nconst __bench_app = %d;\n", i, i) + string(main.Content))
		}
		stub := l.Get(fmt.Sprintf("app-%d", i), func() (loader.WorkerCode, error) { return wc, nil })
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://app/", nil)
		f0 := minflt()
		t0 := time.Now()
		if _, err := stub.Fetch(ctx, req); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		f1 := minflt()
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://app/", nil)
		t1 := time.Now()
		if _, err := stub.Fetch(ctx, req); err != nil {
			t.Fatal(err)
		}
		d2 := time.Since(t1)
		f2 := minflt()
		if i >= 5 {
			cold = append(cold, d)
			second = append(second, d2)
			fc = append(fc, f1-f0)
			fs = append(fs, f2-f1)
		}
	}
	slices.Sort(cold)
	slices.Sort(second)
	slices.Sort(fc)
	slices.Sort(fs)
	t.Logf("cold p50 %v second p50 %v; faults cold %d second %d", cold[len(cold)/2], second[len(second)/2], fc[len(fc)/2], fs[len(fs)/2])
}
