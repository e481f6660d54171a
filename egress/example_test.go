package egress_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/isoerr"
)

// A gateway that lets GETs out to one host, with a secret the caller never sees.
func Example() {
	// An echo server standing in for an API (on 127.0.0.1, hence allowPrivate).
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "you sent: %s", r.Header.Get("Authorization"))
	}))
	defer api.Close()

	p, _ := egress.ParsePolicy([]byte(`{"rules": [{"action": "allow", "host": "127.0.0.1", "methods": ["GET"],
		"allowPrivate": true, "injectHeaders": {"Authorization": "Bearer {{secret:api_token}}"}}]}`))
	g, _ := egress.New(egress.Config{Policy: p, Secrets: egress.NewMemorySecrets(map[string]string{"api_token": "s3cr3t-value"})})
	ctx := egress.WithWorker(context.Background(), "worker-1")

	req, _ := http.NewRequestWithContext(ctx, "GET", api.URL+"/me", nil)
	resp, _ := g.RoundTrip(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	req, _ = http.NewRequestWithContext(ctx, "POST", api.URL+"/me", nil)
	_, err := g.RoundTrip(req)
	fmt.Println(isoerr.CodeOf(err))

	for _, e := range g.Audit().Entries("worker-1", 0) {
		fmt.Println(e.Method, e.Allowed, e.Rule, e.Status)
	}
	// Output:
	// 200 you sent: Bearer [redacted]
	// egress_denied
	// POST false -1 0
	// GET true 0 200
}
