package engine_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// recordSink is a ResponseSink that keeps what it got, in order.
type recordSink struct {
	events []string
	failAt int // Write number (1-based) that fails; 0 never
	writes int
}

func (s *recordSink) Head(status int, statusText string, headers [][2]string) error {
	s.events = append(s.events, strings.TrimSpace("head "+strconv.Itoa(status)+" "+statusText))
	return nil
}

func (s *recordSink) Write(ctx context.Context, chunk []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no deadline on the write's context")
	}
	s.writes++
	if s.writes == s.failAt {
		return errors.New("client went away")
	}
	s.events = append(s.events, "chunk "+string(chunk))
	return nil
}

// A Response whose body is a ReadableStream reaches Request.Sink as it is produced: the
// head first, then each chunk as the guest enqueues it (the second after a timer), within
// the output limit; a body the runtime holds whole is not streamed.
func TestFetchResponseToSink(t *testing.T) {
	worker := `export default {
		async fetch(req) {
			const path = new URL(req.url).pathname;
			if (path === "/whole") return new Response("all at once", { status: 201 });
			if (path === "/bad") return new Response(new ReadableStream({ start(c) { c.enqueue("text, not bytes"); c.close(); } }));
			if (path === "/error") { let sent = false; return new Response(new ReadableStream({ type: "bytes", pull(c) { if (sent) throw new RangeError("broken"); sent = true; c.enqueue(new Uint8Array([65])); } })); }
			const enc = new TextEncoder();
			let n = 0;
			return new Response(new ReadableStream({
				async pull(c) {
					n++;
					if (n === 2) await scheduler.wait(5);
					if (path === "/big") { c.enqueue(new Uint8Array(40 << 10)); return; }
					if (n > 3) { c.close(); return; }
					c.enqueue(enc.encode("part" + n));
				},
				cancel() { console.log("canceled"); },
			}), { status: 200, statusText: "Streamed", headers: { "content-type": "text/plain" } });
		},
	}`
	tests := []struct {
		name, path string
		lim        engine.Limits
		failAt     int
		events     []string
		streamed   bool
		body       string
		code       isoerr.Code
		logs       string
	}{
		{name: "chunks in order", path: "/s", events: []string{"head 200 Streamed", "chunk part1", "chunk part2", "chunk part3"}, streamed: true},
		{name: "bytes body is not streamed", path: "/whole", body: "all at once"},
		{name: "output limit", path: "/big", lim: engine.Limits{Output: 100 << 10},
			events: []string{"head 200 Streamed", "chunk " + strings.Repeat("\x00", 40<<10), "chunk " + strings.Repeat("\x00", 40<<10)},
			code:   isoerr.OutputLimitExceeded, logs: "canceled"},
		{name: "sink failure cancels the stream", path: "/s", failAt: 2, events: []string{"head 200 Streamed", "chunk part1"},
			code: isoerr.WorkerException, logs: "canceled"},
		{name: "chunk not bytes", path: "/bad", events: []string{"head 200"}, code: isoerr.WorkerException},
		{name: "stream errors", path: "/error", events: []string{"head 200", "chunk A"}, code: isoerr.WorkerException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: "js", Content: []byte(worker)}}})
			if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
				t.Fatal(err)
			}
			sink := &recordSink{failAt: tt.failAt}
			lim := tt.lim
			lim.Wall = time.Minute
			res, err := sb.Fetch(ctx, lim, "", &engine.Request{Method: "GET", URL: "http://w" + tt.path, Sink: sink}, nil)
			if tt.code != "" {
				if isoerr.As(err).Code != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(sink.events, "|") != strings.Join(tt.events, "|") {
				t.Fatalf("sink got %q, want %q", sink.events, tt.events)
			}
			if tt.code == "" && (res.Streamed != tt.streamed || string(res.Body) != tt.body) {
				t.Fatalf("Streamed %v, body %q; want %v, %q", res.Streamed, res.Body, tt.streamed, tt.body)
			}
			if tt.streamed && (res.Status != 200 || res.StatusText != "Streamed" || len(res.Headers) != 1) {
				t.Fatalf("result head %d %q %v", res.Status, res.StatusText, res.Headers)
			}
			if tt.logs != "" && (len(res.Logs) != 1 || res.Logs[0].Message != tt.logs) {
				t.Fatalf("logs %v, want %q", res.Logs, tt.logs)
			}
			// The sandbox answers the next call normally.
			if _, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w/whole"}, nil); err != nil && tt.code != isoerr.OutputLimitExceeded {
				t.Fatalf("next call: %v", err)
			}
		})
	}
}

// A body given as a string reaches the host as its UTF-8, as the standard's encoding makes
// it (a lone surrogate becomes U+FFFD), whether the runtime hands the string over as it is
// or encodes it first; within the output limit; and a guest that reads such a body before
// answering reads the same bytes.
func TestStringBodiesReachTheHostAsUTF8(t *testing.T) {
	worker := `export default {
		async fetch(req) {
			const u = new URL(req.url);
			const s = JSON.parse(u.searchParams.get("s"));
			switch (u.pathname) {
			case "/text": return new Response(s);
			case "/json": return Response.json(s);
			case "/json-init": return Response.json(s, { status: 201 });
			case "/init": return new Response(s, { headers: { "x-a": "b" } });
			case "/read": { const r = new Response(s); const c = r.clone(); return new Response(new Uint8Array(await c.arrayBuffer())); }
			case "/read-after": { const r = new Response(s); await r.clone().text(); return r; }
			case "/stream": return new Response(new Response(s).body);
			case "/request": return new Response(await new Request("http://x/", { method: "POST", body: s }).arrayBuffer());
			}
			return new Response("?", { status: 404 });
		},
	}`
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: "js", Content: []byte(worker)}}})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{ // the JSON of the string -> its UTF-8
		`"hi"`:                             "hi",
		`""`:                               "",
		`"h\u00e9llo \u2713 \ud83d\ude00"`: "héllo ✓ 😀",
		`"\u00ff\u00e9"`:                   "ÿé", // one byte a character in QuickJS, two in UTF-8
		`"a\ud800b"`:                       "a\uFFFDb",
		`"\udc00"`:                         "\uFFFD",
		`"\ud83d"`:                         "\uFFFD",
	}
	for _, path := range []string{"/text", "/init", "/read", "/read-after", "/stream", "/request"} {
		for js, want := range texts {
			res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w" + path + "?s=" + url.QueryEscape(js)}, nil)
			if err != nil {
				t.Fatalf("%s %s: %v", path, js, err)
			}
			if string(res.Body) != want {
				t.Errorf("%s %s: body %q, want %q", path, js, res.Body, want)
			}
		}
	}
	for _, path := range []string{"/json", "/json-init"} {
		res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w" + path + "?s=" + url.QueryEscape(`{"s":"a\ud800b\u00e9"}`)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"s":"a\ud800bé"}`; string(res.Body) != want {
			t.Errorf("%s: body %q, want %q", path, res.Body, want)
		}
	}
	// The output limit counts the UTF-8 bytes: 300 two-byte characters are 600 bytes.
	long := `"` + strings.Repeat(`\u00e9`, 300) + `"`
	if _, err := sb.Fetch(ctx, engine.Limits{Output: 599}, "", &engine.Request{Method: "GET", URL: "http://w/text?s=" + url.QueryEscape(long)}, nil); isoerr.As(err).Code != isoerr.OutputLimitExceeded {
		t.Fatalf("a 600-byte string body under a 599-byte limit: %v", err)
	}
	if res, err := sb.Fetch(ctx, engine.Limits{Output: 600}, "", &engine.Request{Method: "GET", URL: "http://w/text?s=" + url.QueryEscape(long)}, nil); err != nil || len(res.Body) != 600 {
		t.Fatalf("a 600-byte string body under a 600-byte limit: %v", err)
	}
}

// The head a response puts on the wire is its own state, whether its Headers was made or
// not: a string body's or Response.json's one header until the guest touches the Headers,
// every change the guest makes to it after, nothing a clone's changes do, and nothing a
// subclass or a replaced getter says instead (as in workerd).
func TestResponseHeadIsTheResponsesOwn(t *testing.T) {
	worker := `export default {
		async fetch(req) {
			switch (new URL(req.url).pathname) {
			case "/plain": return new Response("hi");
			case "/json": return Response.json(1);
			case "/set": { const r = new Response("hi"); r.headers.set("x-a", "1"); return r; }
			case "/json-append": { const r = Response.json(1); r.headers.append("set-cookie", "a=1"); r.headers.append("set-cookie", "b=2"); return r; }
			case "/deleted": { const r = new Response("hi"); r.headers.delete("content-type"); return r; }
			case "/read": { const r = new Response("hi"); if (r.headers.get("content-type") !== "text/plain;charset=UTF-8") throw new Error("type"); return r; }
			case "/clone": { const r = new Response("hi"); const c = r.clone(); c.headers.set("x-c", "1"); return r; }
			case "/subclass": {
				class R extends Response {
					get status() { return 299; }
					get statusText() { return "Fake"; }
					get headers() { return new Headers({ "x-fake": "1" }); }
				}
				return new R("hi");
			}
			}
			return new Response("?", { status: 404 });
		},
	}`
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: "js", Content: []byte(worker)}}})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	text, json := [2]string{"content-type", "text/plain;charset=UTF-8"}, [2]string{"content-type", "application/json"}
	for _, tt := range []struct {
		path    string
		status  int
		headers [][2]string
	}{
		{"/plain", 200, [][2]string{text}},
		{"/json", 200, [][2]string{json}},
		{"/set", 200, [][2]string{text, {"x-a", "1"}}},
		{"/json-append", 200, [][2]string{json, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}}},
		{"/deleted", 200, nil},
		{"/read", 200, [][2]string{text}},
		{"/clone", 200, [][2]string{text}},
		{"/subclass", 200, [][2]string{text}},
	} {
		res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w" + tt.path}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if res.Status != tt.status || res.StatusText != "" || !slices.Equal(res.Headers, tt.headers) {
			t.Errorf("%s: %d %q %q, want %d %q", tt.path, res.Status, res.StatusText, res.Headers, tt.status, tt.headers)
		}
	}
}

// A fetch handler that answers something other than a Response gets a worker_exception
// that says what it answered, also for an object that only looks like one (a Proxy of a
// Response, an object made from Response.prototype), synchronously or through a promise;
// the sandbox goes on answering.
func TestFetchHandlerAnswersNotAResponse(t *testing.T) {
	worker := `export default {
		async fetch(req) {
			switch (new URL(req.url).pathname) {
			case "/proxy": return new Proxy(new Response("x"), {});
			case "/create": return Object.create(Response.prototype);
			case "/number": return 5;
			case "/null": return null;
			}
			return new Response("ok");
		},
	}`
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: "js", Content: []byte(worker)}}})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	lookalike := "got an object that inherits from Response.prototype but is not a Response"
	for _, tt := range []struct{ path, want string }{
		{"/proxy", lookalike},
		{"/create", lookalike},
		{"/number", "got number"},
		{"/null", "got null"},
	} {
		_, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w" + tt.path}, nil)
		if isoerr.CodeOf(err) != isoerr.WorkerException || !strings.Contains(err.Error(), "the fetch handler must return a Response, "+tt.want) {
			t.Errorf("%s: %v, want a worker_exception saying %q", tt.path, err, tt.want)
		}
		res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w/"}, nil)
		if err != nil || string(res.Body) != "ok" {
			t.Fatalf("after %s: %q %v", tt.path, res.Body, err)
		}
	}
}

// A warm worker's heap does not grow with the fetches it answers: nothing an invocation
// makes is left in a cycle that only the cycle collector frees. That covers its ctx, whose
// waitUntil holds the invocation, and a streamed body's stream, controller, reader and
// TransformStream. Before, every fetch left ~600 bytes and every TransformStream response
// ~7 KB; a worker that had answered 20,000 hellos held 14 MiB of linear memory instead of 2.5.
func TestFetchesLeaveNoCycles(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ name, src string }{
		{"hello", `export default { fetch() { return new Response("hi"); } };`},
		{"async", `export default { async fetch() { return new Response("hi"); } };`},
		{"waitUntil", `export default { fetch(req, env, ctx) { ctx.waitUntil(Promise.resolve(1)); return new Response("hi"); } };`},
		{"class", `import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint { fetch() { return new Response("hi"); } };`},
		{"request read", `export default { async fetch(req) { req.headers.get("a"); req.signal.aborted; return Response.json({ p: new URL(req.url).pathname, b: await req.text() }); } };`},
		{"throws", `export default { fetch() { throw new Error("x"); } };`},
		{"stream", `export default { fetch() { return new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(1)); c.close(); } })); } };`},
		{"stream pulled", `export default { fetch() { let n = 0; return new Response(new ReadableStream({ pull(c) { if (n++ < 2) c.enqueue(new Uint8Array(1)); else c.close(); } })); } };`},
		{"stream read", `export default { async fetch() { const r = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(1)); c.close(); } })); return new Response(await r.arrayBuffer()); } };`},
		{"transform (SSE)", `export default { fetch() {
  const { readable, writable } = new TransformStream();
  const w = writable.getWriter(), e = new TextEncoder();
  (async () => { for (let i = 0; i < 3; i++) await w.write(e.encode("data: " + i + "\n\n")); await w.close(); })();
  return new Response(readable, { headers: { "content-type": "text/event-stream" } });
} };`},
		{"stream canceled", `export default { async fetch() { const s = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1)); }, cancel() {} }); const r = s.getReader(); await r.read(); await r.cancel("done"); return new Response("ok"); } };`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(tt.src)}}})
			if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
				t.Fatal(err)
			}
			fetch := func() {
				_, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "POST", URL: "http://x/p", Body: []byte("body")}, nil)
				if err != nil && tt.name != "throws" {
					t.Fatal(err)
				}
			}
			for range 10 {
				fetch()
			}
			m0 := sb.MemoryBytes()
			for range 3000 {
				fetch()
			}
			if m := sb.MemoryBytes(); m > m0+64<<10 {
				t.Fatalf("3,000 fetches grew the worker's memory from %d to %d KiB", m0>>10, m>>10)
			}
		})
	}
}
