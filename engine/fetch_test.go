package engine_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
)

// fetch through the outbound seam: response bodies stream into the sandbox chunk by chunk,
// the output limit holds on what is read, and redirect modes are honoured.
func TestFetchStreaming(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			// 1 MiB in 16 KiB writes, flushed: the sandbox sees it as a stream.
			chunk := strings.Repeat("x", 16<<10)
			for range 64 {
				fmt.Fprint(w, chunk)
				w.(http.Flusher).Flush()
			}
		case "/redirect":
			http.Redirect(w, r, "/small", http.StatusFound)
		case "/small":
			fmt.Fprint(w, "small")
		}
	}))
	defer srv.Close()
	tests := []struct {
		name, code, want string
		lim              engine.Limits
	}{
		{"stream read in chunks", `const r = await fetch("` + srv.URL + `/big"); const reader = r.body.getReader();
			let n = 0, chunks = 0; for (;;) { const {done, value} = await reader.read(); if (done) break; n += value.length; chunks++ }
			[n, chunks > 1]`, `[1048576,true]`, engine.Limits{}},
		{"BYOB reads to the end", `const r = await fetch("` + srv.URL + `/big"); const rd = r.body.getReader({mode: "byob"});
			let n = 0, buf = new ArrayBuffer(10000); for (;;) { const {done, value} = await rd.read(new Uint8Array(buf)); if (done) break; n += value.length; buf = value.buffer }
			n`, `1048576`, engine.Limits{}},
		{"text() reads it whole", `(await (await fetch("` + srv.URL + `/big")).text()).length`, `1048576`, engine.Limits{}},
		{"unread body is fine", `(await fetch("` + srv.URL + `/big")).status`, `200`, engine.Limits{}},
		{"cancel mid-stream", `const r = await fetch("` + srv.URL + `/big"); const rd = r.body.getReader(); await rd.read(); await rd.cancel(); "ok"`, `"ok"`, engine.Limits{}},
		{"output limit on the body", `try { await (await fetch("` + srv.URL + `/big")).arrayBuffer(); "read" } catch (e) { e.message }`,
			`"the response body is larger than the output limit of 102400 bytes"`, engine.Limits{Output: 100 << 10}},
		{"redirect follow reports the final URL", `const r = await fetch("` + srv.URL + `/redirect"); [await r.text(), r.redirected, r.url.endsWith("/small")]`,
			`["small",true,true]`, engine.Limits{}},
		{"redirect manual", `const r = await fetch("` + srv.URL + `/redirect", {redirect: "manual"}); r.status`, `302`, engine.Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t, engine.SandboxConfig{Outbound: http.DefaultTransport})
			res, err := eval(t, sb, tt.lim, tt.code)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if string(res.Value) != tt.want {
				t.Fatalf("got %s, want %s", res.Value, tt.want)
			}
		})
	}
}

// A ReadableStream request body goes out as it is produced (chunked), and the server sees
// every byte.
func TestFetchStreamingRequestBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %v %s", len(b), r.ContentLength, b[:min(len(b), 5)])
	}))
	defer srv.Close()
	sb := newSandbox(t, engine.SandboxConfig{Outbound: http.DefaultTransport})
	res, err := eval(t, sb, engine.Limits{}, `
		let i = 0;
		const body = new ReadableStream({ pull(c) { if (i++ < 100) c.enqueue(new TextEncoder().encode("chunk" + "x".repeat(995))); else c.close(); } });
		const r = await fetch("`+srv.URL+`/up", { method: "POST", body, duplex: "half" });
		await r.text()`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Value); got != `"100000 -1 chunk"` {
		t.Fatalf("server saw %s", got)
	}
	// A stream that errors aborts the request; fetch rejects.
	res, err = eval(t, sb, engine.Limits{}, `
		const bad = new ReadableStream({ pull(c) { c.error(new Error("producer failed")) } });
		try { await fetch("`+srv.URL+`/up", { method: "POST", body: bad }); "sent" } catch (e) { "rejected" }`)
	if err != nil || string(res.Value) != `"rejected"` {
		t.Fatalf("erroring stream: %s %v", res.Value, err)
	}
}
