package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/loader"
)

// A client that disconnects stops its call: with every sandbox of a worker held by calls
// that spin (CPU limit 20 s) and whose clients then close their connections, the next call
// to that worker gets a sandbox at once, long before the spinning calls' CPU limit.
func TestDisconnectedClientsFreeTheirSandboxes(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	code := js(`export default { fetch(req) {
		if (new URL(req.url).pathname === "/spin") while (true) {}
		return new Response("ok");
	} }`)
	code.Limits = &loader.Limits{CPUMs: 20000}
	if _, err := ts.c.PutWorker(ctx, "spinner", code); err != nil {
		t.Fatal(err)
	}
	const slots = 4 // the loader's default MaxInstancesPerWorker
	body := `{"url":"http://localhost/spin"}`
	req := fmt.Sprintf("POST /v1/workers/spinner/fetch HTTP/1.1\r\nHost: isobox\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
	var conns []net.Conn
	for range slots {
		c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "every sandbox to spin", func() bool { return ts.sb.Stats().BusySandboxes == slots })
	start := time.Now()
	for _, c := range conns {
		c.Close()
	}
	next, cancel := context.WithTimeout(ctx, 10*time.Second) // half the spinning calls' CPU limit
	defer cancel()
	out, err := ts.c.Fetch(next, "spinner", client.FetchRequest{})
	if err != nil || out.Status != 200 {
		t.Fatalf("the call after the disconnected ones: %+v, %v", out, err)
	}
	t.Logf("%d spinning calls disconnected; the next call answered %v later", slots, time.Since(start))
	waitFor(t, "the disconnected calls to end", func() bool { return ts.sb.Stats().BusySandboxes == 0 })
}
