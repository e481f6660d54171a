package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// The test modules are built from the C sources beside them by testdata/wasm/build.sh.
func wasmFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wasm", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newWasmWorker makes a WebAssembly worker's sandbox for bin and loads it.
func newWasmWorker(t testing.TB, cfg engine.SandboxConfig, bin []byte, env string) (*engine.Sandbox, error) {
	t.Helper()
	cfg.Wasm = true
	cfg.Modules = engine.ModuleMap{"main.wasm": {Type: engine.ModuleWasm, Content: bin}}
	sb, err := testEngine.NewSandbox(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewSandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	_, err = sb.Load(context.Background(), engine.Limits{}, "main.wasm", json.RawMessage(env))
	return sb, err
}

func wasmWorker(t testing.TB, bin []byte, env string) *engine.Sandbox {
	t.Helper()
	sb, err := newWasmWorker(t, engine.SandboxConfig{}, bin, env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return sb
}

func wasmFetch(t *testing.T, sb *engine.Sandbox, lim engine.Limits, path string, body string, headers ...[2]string) (*engine.Result, error) {
	t.Helper()
	req := &engine.Request{Method: "POST", URL: "https://w.example" + path, Headers: headers}
	if body != "" {
		req.Body = []byte(body)
	}
	return sb.Fetch(context.Background(), lim, "", req, nil)
}

func wantCode(t *testing.T, err error, code isoerr.Code, contains string) {
	t.Helper()
	if got := isoerr.As(err); err == nil || got.Code != code || !strings.Contains(got.Message, contains) {
		t.Fatalf("error = %v, want %s containing %q", err, code, contains)
	}
}

func TestWasmCommandEcho(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	for _, body := range []string{"hello, wasm", strings.Repeat("0123456789", 10000)} {
		res, err := wasmFetch(t, sb, engine.Limits{}, "/echo", body)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 200 || string(res.Body) != body || len(res.Headers) != 0 {
			t.Fatalf("status %d headers %v body %d bytes, want 200 and the request body", res.Status, res.Headers, len(res.Body))
		}
	}
}

func TestWasmCommandStatusAndHeaders(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	res, err := wasmFetch(t, sb, engine.Limits{}, "/status", "", [2]string{"X-Name", "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"content-type", "text/plain"}, {"x-method", "POST"}}
	if res.Status != 201 || string(res.Body) != "hello Ada" || !equalHeaders(res.Headers, want) {
		t.Fatalf("got %d %v %q, want 201 %v \"hello Ada\"", res.Status, res.Headers, res.Body, want)
	}
}

func equalHeaders(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The environment holds the worker's env and the request, nothing of the host's.
func TestWasmCommandEnvironment(t *testing.T) {
	t.Setenv("ISOBOX_HOST_SECRET", "leaked")
	sb := wasmWorker(t, wasmFile(t, "cmd.wasm"), `{"GREETING":"hi","N":3,"REQUEST_METHOD":"forged"}`)
	res, err := wasmFetch(t, sb, engine.Limits{}, "/env?q=1", "abc", [2]string{"Accept", "a"}, [2]string{"accept", "b"})
	if err != nil {
		t.Fatal(err)
	}
	env := string(res.Body)
	for _, want := range []string{"GREETING=hi\n", "N=3\n", "REQUEST_METHOD=POST\n", "REQUEST_URL=https://w.example/env?q=1\n",
		"PATH_INFO=/env\n", "QUERY_STRING=q=1\n", "CONTENT_LENGTH=3\n", "HTTP_ACCEPT=a, b\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "leaked") || strings.Contains(env, "forged") || strings.Contains(env, "PATH=") {
		t.Errorf("environment holds the host's or forged values:\n%s", env)
	}
}

func TestWasmCommandExitStatus(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	res, err := wasmFetch(t, sb, engine.Limits{}, "/exit", "")
	wantCode(t, err, isoerr.WorkerException, "exited with status 3: something went wrong")
	if len(res.Logs) != 1 || res.Logs[0].Message != "something went wrong" {
		t.Errorf("logs = %v, want stderr's line", res.Logs)
	}
	// A command keeps no state: the sandbox serves the next request.
	if res, err := wasmFetch(t, sb, engine.Limits{}, "/echo", "again"); err != nil || string(res.Body) != "again" {
		t.Fatalf("after a failed run: %v %q", err, res.Body)
	}
}

// The guest sees no host file: WASI gets no preopened directory.
func TestWasmCommandNoHostFiles(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	res, err := wasmFetch(t, sb, engine.Limits{}, "/open", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != "open failed" {
		t.Fatalf("opening /etc/passwd gave %q", res.Body)
	}
}

func TestWasmHostileCommands(t *testing.T) {
	for _, tc := range []struct {
		path     string
		lim      engine.Limits
		code     isoerr.Code
		contains string
	}{
		{"/loop", engine.Limits{CPU: 50 * time.Millisecond}, isoerr.CPULimitExceeded, "CPU limit"},
		{"/loop", engine.Limits{CPU: 20 * time.Second, Wall: 100 * time.Millisecond}, isoerr.WallTimeExceeded, "wall-time"},
		{"/grow", engine.Limits{}, isoerr.MemoryLimitExceeded, "memory limit of 16 MiB"},
		{"/recurse", engine.Limits{CPU: 30 * time.Second, Wall: time.Minute}, isoerr.WorkerException, "stack overflow"}, // wazero's stack ceiling is hundreds of MB: reaching it takes ~1 s of CPU on a slow core
		{"/shadow", engine.Limits{}, isoerr.WorkerException, "out of bounds memory access"},
		{"/big", engine.Limits{Output: 1 << 20}, isoerr.OutputLimitExceeded, "output limit"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			sb, err := newWasmWorker(t, engine.SandboxConfig{Memory: 16 << 20}, wasmFile(t, "cmd.wasm"), "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = wasmFetch(t, sb, tc.lim, tc.path, "")
			wantCode(t, err, tc.code, tc.contains)
		})
	}
}

func TestWasmCanceled(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := sb.Fetch(ctx, engine.Limits{CPU: 20 * time.Second}, "", &engine.Request{Method: "GET", URL: "https://w.example/loop"}, nil)
	wantCode(t, err, isoerr.Canceled, "canceled")
}

func TestWasmReactor(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "reactor.wasm"), "")
	call := func(method, args string) (string, error) {
		res, err := sb.Call(context.Background(), engine.Limits{}, "", method, json.RawMessage(args), nil)
		if err != nil {
			return "", err
		}
		return string(res.Value), nil
	}
	for _, tc := range []struct{ method, args, want string }{
		{"add", "[2, 40]", "42"},
		{"add", "[2147483647, 1]", "-2147483648"},
		{"mul64", "[4294967296, 3]", "12884901888"},
		{"half", "[3]", "1.5"},
		{"incr", "[]", "1"},
		{"incr", "[]", "2"}, // a reactor's state lives as long as its sandbox
	} {
		if got, err := call(tc.method, tc.args); err != nil || got != tc.want {
			t.Errorf("%s(%s) = %s, %v; want %s", tc.method, tc.args, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		method, args string
		code         isoerr.Code
		contains     string
	}{
		{"nope", "[]", isoerr.MethodNotFound, `no function "nope"`},
		{"_initialize", "[]", isoerr.MethodNotFound, "_initialize"},
		{"add", "[1]", isoerr.InvalidRequest, "add(i32, i32) -> (i32) takes 2 arguments, got 1"},
		{"add", `["1", 2]`, isoerr.InvalidRequest, "argument 1"},
		{"add", "[1.5, 2]", isoerr.InvalidRequest, "must be an i32"},
		{"add", "[4294967296, 2]", isoerr.InvalidRequest, "must be an i32"},
	} {
		_, err := call(tc.method, tc.args)
		wantCode(t, err, tc.code, tc.contains)
	}
	// Bad calls break nothing.
	if got, err := call("incr", "[]"); err != nil || got != "3" {
		t.Fatalf("incr after bad calls = %s, %v", got, err)
	}
	if _, err := wasmFetch(t, sb, engine.Limits{}, "/", ""); isoerr.As(err).Code != isoerr.MethodNotFound {
		t.Errorf("fetch on a reactor: %v, want method_not_found", err)
	}
}

func TestWasmReactorLimitBreaksSandbox(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "reactor.wasm"), "")
	_, err := sb.Call(context.Background(), engine.Limits{CPU: 50 * time.Millisecond}, "", "spin", nil, nil)
	wantCode(t, err, isoerr.CPULimitExceeded, "CPU limit")
	if sb.Broken() == nil {
		t.Fatal("the sandbox is usable after its guest was stopped mid-call")
	}
}

// wasmModule builds a module from raw sections (id, contents).
func wasmModule(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for i := 0; i < len(sections); i += 2 {
		b = append(b, sections[i][0])
		b = append(b, uleb(uint64(len(sections[i+1])))...)
		b = append(b, sections[i+1]...)
	}
	return b
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func wasmName(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func TestWasmInvalidModules(t *testing.T) {
	table := func(limits ...byte) []byte { return append([]byte{1, 0x70}, limits...) }
	huge := append(append([]byte{1}, uleb(1)...), uleb(10_000_000)...)
	for _, tc := range []struct {
		name     string
		bin      []byte
		contains string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "not a WebAssembly module"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "components"},
		{"truncated", []byte("\x00asm\x01\x00\x00\x00\x01\x7f"), "not a valid WebAssembly module"},
		{"unknown import", wasmFile(t, "badimport.wasm"), "env.steal_secrets"},
		{"table without max", wasmModule([]byte{4}, table(append([]byte{0}, uleb(10_000_000)...)...)), "without a maximum"},
		{"huge table", wasmModule([]byte{4}, table(huge...)), "at most 1048576"},
		{"imported table", wasmModule([]byte{2}, append(append(append([]byte{1}, wasmName("env")...), wasmName("t")...), 1, 0x70, 1, 0, 1)), "env.t (a table)"},
		{"memory import", wasmModule([]byte{2}, append(append(append([]byte{1}, wasmName("env")...), wasmName("memory")...), 2, 0, 1)), "env.memory (a memory)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newWasmWorker(t, engine.SandboxConfig{}, tc.bin, "")
			wantCode(t, err, isoerr.InvalidWorkerCode, tc.contains)
			mods := engine.ModuleMap{"main.wasm": {Type: engine.ModuleWasm, Content: tc.bin}}
			err = testEngine.Compile(context.Background(), engine.Limits{}, mods, "main.wasm")
			wantCode(t, err, isoerr.InvalidWorkerCode, tc.contains)
		})
	}
}

// A module whose initial memory is over the sandbox's limit does not start.
func TestWasmInitialMemoryOverLimit(t *testing.T) {
	// One memory of 512 pages (32 MiB) minimum, exported; a sandbox limit of 16 MiB.
	bin := wasmModule([]byte{5}, append([]byte{1, 0}, uleb(512)...))
	_, err := newWasmWorker(t, engine.SandboxConfig{Memory: 16 << 20}, bin, "")
	wantCode(t, err, isoerr.MemoryLimitExceeded, "memory limit of 16 MiB")
	// Within the limit it starts.
	if _, err := newWasmWorker(t, engine.SandboxConfig{Memory: 64 << 20}, bin, ""); err != nil {
		t.Fatal(err)
	}
}

func TestWasmWrongSandboxKind(t *testing.T) {
	mods := engine.ModuleMap{"main.wasm": {Type: engine.ModuleWasm, Content: wasmFile(t, "reactor.wasm")}}
	sb, err := testEngine.NewSandbox(context.Background(), engine.SandboxConfig{Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	_, err = sb.Load(context.Background(), engine.Limits{}, "main.wasm", nil)
	wantCode(t, err, isoerr.InvalidRequest, "SandboxConfig.Wasm")
}

// The committed modules are what their C sources and build.sh make (where clang-19 and
// wasi-libc are installed: .ci/run installs them).
func TestWasmTestdataReproduces(t *testing.T) {
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	dir := t.TempDir()
	for _, f := range []string{"build.sh", "cmd.c", "reactor.c", "badimport.c"} {
		if err := os.WriteFile(filepath.Join(dir, f), wasmFile(t, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("sh", filepath.Join(dir, "build.sh")).CombinedOutput(); err != nil {
		t.Skipf("build.sh: %v\n%s (is wasi-libc installed?)", err, out)
	}
	for _, f := range []string{"cmd.wasm", "reactor.wasm", "badimport.wasm"} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(got, wasmFile(t, f)) {
			t.Errorf("%s differs from what build.sh makes (%v): run engine/testdata/wasm/build.sh and commit", f, err)
		}
	}
}

// BenchmarkWasmCommand is one request to a small command (echo): a fresh instance, _start,
// stdin to stdout.
func BenchmarkWasmCommand(b *testing.B) {
	sb := wasmWorker(b, wasmFile(b, "cmd.wasm"), "")
	req := &engine.Request{Method: "POST", URL: "https://w.example/echo", Body: []byte("hello")}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := sb.Fetch(context.Background(), engine.Limits{}, "", req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWasmReactorCall is one RPC call to a reactor's export (add).
func BenchmarkWasmReactorCall(b *testing.B) {
	sb := wasmWorker(b, wasmFile(b, "reactor.wasm"), "")
	args := json.RawMessage("[1,2]")
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := sb.Call(context.Background(), engine.Limits{}, "", "add", args, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// Each request to a command starts from zeroed memory, though a sandbox reuses the
// memory of its last request: nothing one request wrote is visible to the next.
func TestWasmCommandRequestsShareNothing(t *testing.T) {
	sb := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	for i, body := range []string{"secret of request 1", "secret of request 2"} {
		res, err := wasmFetch(t, sb, engine.Limits{}, "/remember", body)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Body) != "(nothing)" {
			t.Fatalf("request %d saw %q", i+1, res.Body)
		}
	}
}

// A spinning module does not stall the process: its loop checks reach Go (a safe point),
// so a garbage collection and another sandbox's request complete while it spins, and
// canceling its caller stops it.
func TestWasmRunawayDoesNotStallOthers(t *testing.T) {
	spinner := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	other := wasmWorker(t, wasmFile(t, "cmd.wasm"), "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := spinner.Fetch(ctx, engine.Limits{CPU: 30 * time.Second, Wall: 15 * time.Minute}, "",
			&engine.Request{Method: "GET", URL: "https://w.example/loop"}, nil)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it start spinning (the assertions hold either way)
	runtime.GC()
	res, err := wasmFetch(t, other, engine.Limits{}, "/echo", "still here")
	if err != nil || string(res.Body) != "still here" {
		t.Fatalf("another sandbox: %v %q", err, res.Body)
	}
	select {
	case err := <-done:
		t.Fatalf("the spinner ended before it was canceled: %v", err)
	default:
	}
	cancel()
	wantCode(t, <-done, isoerr.Canceled, "canceled")
}

// An export whose signature has no JSON form is refused by name, not called.
func TestWasmReactorNonNumericSignature(t *testing.T) {
	bin := wasmModule(
		[]byte{1}, []byte{1, 0x60, 1, 0x6f, 1, 0x7f}, // type 0: (externref) -> (i32)
		[]byte{3}, []byte{1, 0}, // function 0 has type 0
		[]byte{7}, append(append([]byte{1}, wasmName("f")...), 0, 0), // export "f" = function 0
		[]byte{10}, []byte{1, 4, 0, 0x41, 7, 0x0b}, // body: i32.const 7
	)
	sb := wasmWorker(t, bin, "")
	_, err := sb.Call(context.Background(), engine.Limits{}, "", "f", json.RawMessage("[null]"), nil)
	wantCode(t, err, isoerr.InvalidRequest, "f(externref) -> (i32) cannot be called over RPC")
}
