package egress

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRoundTrip compares one allowed GET (1 KiB answer, kept-alive connection) through
// the gateway with the same request through a plain http.Transport.
//
//	go test ./egress -run X -bench RoundTrip -benchmem
func BenchmarkRoundTrip(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(payload) }))
	defer s.Close()
	plain := &http.Transport{}
	defer plain.CloseIdleConnections()
	allow := &Policy{Rules: []Rule{{Action: Allow, Host: "127.0.0.1", AllowPrivate: true}}}
	inject := &Policy{Rules: []Rule{{Action: Allow, Host: "127.0.0.1", AllowPrivate: true,
		InjectHeaders: map[string]string{"Authorization": "Bearer {{secret:tok}}"}}}}
	secrets := NewMemorySecrets(map[string]string{"tok": tok})
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"transport", plain},
		{"gateway", must(New(Config{Policy: allow, Audit: NewAudit(1000)}))},
		{"gateway+secret", must(New(Config{Policy: inject, Secrets: secrets, Audit: NewAudit(1000)}))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("GET", s.URL+"/", nil)
				resp, err := c.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n != int64(len(payload)) {
					b.Fatalf("%d bytes", n)
				}
			}
		})
		if g, ok := c.rt.(*Gateway); ok {
			g.CloseIdleConnections()
		}
	}
}

func must(g *Gateway, err error) *Gateway {
	if err != nil {
		panic(err)
	}
	return g
}
