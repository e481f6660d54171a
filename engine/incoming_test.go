package engine_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
)

// The incoming Request is made lazily (its Headers and signal on first use) and the hello
// Response takes a fast path (RATIONALE §43): whatever order a handler touches them
// in, it sees what the standard says, and the response head carries every header value
// exactly, however odd.
func TestIncomingRequestLazyFields(t *testing.T) {
	ctx := context.Background()
	worker := `export default {
		async fetch(req) {
			const path = new URL(req.url).pathname;
			const out = (v) => new Response(JSON.stringify(v));
			switch (path) {
			case "/headers-after-body": {
				const text = await req.text();
				return out([text, req.bodyUsed, req.headers.get("x-a"), [...req.headers].length]);
			}
			case "/clone-then-headers": {
				const c = req.clone();
				const both = [c.headers.get("x-a"), req.headers.get("x-a"), await c.text(), await req.text()];
				let threw = false;
				try { req.headers.set("x-a", "2"); } catch (e) { threw = e instanceof TypeError; }
				try { c.headers.set("x-a", "3"); } catch (e) { threw = threw && e instanceof TypeError; } // a clone's too
				return out(both.concat([threw]));
			}
			case "/as-init": {
				const copy = new Request(req.clone());
				const r = new Request(req, { headers: { "x-b": "b" } });
				copy.headers.set("x-a", "changed");
				return out([r.method, r.url, r.headers.get("x-a"), r.headers.get("x-b"), req.bodyUsed, copy.headers.get("x-a"), req.headers.get("x-a"), await r.text()]);
			}
			case "/echo-headers":
				return out([...req.headers]);
			case "/signal":
				return out([req.signal.aborted, req.signal === req.signal, req.method, req.redirect, req.cache, req.keepalive]);
			case "/hello": {
				const r = new Response("héllo");
				r.headers.set("x-c", "1"); // the fast path's headers are mutable
				return r;
			}
			case "/odd-values": {
				const h = new Headers();
				for (const v of ['q"uote', "back\\slash", "tab\there", "__proto__", "constructor", "é"]) h.append("x-" + h.keys().toArray().length + "-v", v);
				h.append("__proto__", "p");
				return new Response("x", { headers: h });
			}
			case "/many-values": {
				const h = new Headers();
				for (let i = 0; i < 300; i++) h.append("x-" + i, "v" + i);
				return new Response("x", { headers: h });
			}
			}
			return new Response("?", { status: 404 });
		},
	}`
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{
		"main.js": {Type: engine.ModuleJS, Content: []byte(worker)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	fetch := func(t *testing.T, method, path string, body []byte) *engine.Result {
		t.Helper()
		res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: method, URL: "http://w" + path,
			Headers: [][2]string{{"X-A", "1"}, {"content-type", "text/plain"}}, Body: body}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, tt := range []struct {
		method, path, body, want string
	}{
		{"POST", "/headers-after-body", "payload", `["payload",true,"1",2]`},
		{"POST", "/clone-then-headers", "p", `["1","1","p","p",true]`},
		{"POST", "/as-init", "p", `["POST","http://w/as-init",null,"b",true,"changed","1","p"]`},
		{"GET", "/signal", "", `[false,true,"GET","follow","default",false]`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			if got := string(fetch(t, tt.method, tt.path, body).Body); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	// The fetch message joins headers into one string unless one holds a newline
	// (engine/message.go); the handler sees the same pairs either way, none included.
	for _, tt := range []struct {
		name    string
		headers [][2]string
		want    string
	}{
		{"joined", [][2]string{{"B", "2"}, {"a", ""}, {"a", "1"}}, `[["a",", 1"],["b","2"]]`},
		{"pairs", [][2]string{{"B", "2"}, {"a", "x\ny"}}, `[["a","x\ny"],["b","2"]]`},
		{"none", nil, `[]`},
	} {
		t.Run("headers "+tt.name, func(t *testing.T) {
			res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w/echo-headers", Headers: tt.headers}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Body) != tt.want {
				t.Fatalf("got %s, want %s", res.Body, tt.want)
			}
		})
	}
	t.Run("hello", func(t *testing.T) {
		res := fetch(t, "GET", "/hello", nil)
		want := [][2]string{{"content-type", "text/plain;charset=UTF-8"}, {"x-c", "1"}}
		if string(res.Body) != "héllo" || res.Status != 200 || !reflect.DeepEqual(res.Headers, want) {
			t.Fatalf("got %d %q %v", res.Status, res.Body, res.Headers)
		}
	})
	t.Run("odd values", func(t *testing.T) {
		for i := 0; i < 2; i++ { // the second time from the quoting cache
			res := fetch(t, "GET", "/odd-values", nil)
			got := fmt.Sprint(res.Headers)
			for _, v := range []string{`q"uote`, `back\slash`, "tab\there", "[x-3-v __proto__]", "[x-4-v constructor]", "é", "[__proto__ p]"} {
				if !strings.Contains(got, v) {
					t.Fatalf("%q missing from %s", v, got)
				}
			}
		}
	})
	t.Run("more values than the cache holds", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			res := fetch(t, "GET", "/many-values", nil)
			if len(res.Headers) != 301 {
				t.Fatalf("%d headers", len(res.Headers))
			}
			for _, h := range res.Headers[:300] {
				if "x-"+h[1][1:] != h[0] {
					t.Fatalf("pair %v", h)
				}
			}
		}
	})
}
