package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestForwardRouteAgreesWithMux: for every request forwardRoute takes, the ServeMux of the
// real route table would route it to the same pattern with the same path values; the
// plain worker HTTP requests are taken (so the fast path is used), and the others are
// left to the mux (whose redirects, 404s and 405s stay its own).
func TestForwardRouteAgreesWithMux(t *testing.T) {
	s := &Server{metrics: newMetrics(nil)}
	mux := http.NewServeMux()
	type seen struct{ pattern, id, path string }
	var got seen
	for _, rt := range s.routeTable() {
		mux.HandleFunc(rt.pattern(), func(w http.ResponseWriter, r *http.Request) {
			got = seen{r.Pattern, r.PathValue("id"), r.PathValue("path")}
		})
	}
	for _, c := range []struct {
		method, target string
		taken          bool // forwardRoute must take it
	}{
		{"GET", "/v1/workers/hello/http", true},
		{"GET", "/v1/workers/hello/http/", true},
		{"POST", "/v1/workers/hello/http/a/b?q=1", true},
		{"DELETE", "/v1/workers/t~hello/http/x", true},
		{"GET", "/v1/workers/hello/http/a%2Fb/c%20d", true},
		{"GET", "/v1/workers/hello/http/a/", true},
		{"OPTIONS", "/v1/workers/x/http/deep/er/path.html", true},
		{"GET", "/v1/workers/h%65llo/http/", false}, // escaped id: the mux's
		{"GET", "/v1/workers/hello/%68ttp/", false},
		{"GET", "/v1/workers/hello/httpx", false},
		{"GET", "/v1/workers/hello/http//a", false}, // redirected by the mux
		{"GET", "/v1/workers/hello/http/./a", false},
		{"GET", "/v1/workers/hello/http/a/..", false},
		{"GET", "/v1/workers/hello/http/..", false},
		{"GET", "/v1/workers//http/", false},
		{"GET", "/v1/workers/hello", false},
		{"GET", "/v1/workers/hello/logs", false},
		{"POST", "/v1/workers/hello/fetch", false},
		{"CONNECT", "/v1/workers/hello/http/", false},
		{"GET", "/v1/workers/", false},
	} {
		r := httptest.NewRequest(c.method, "http://localhost"+c.target, nil)
		if c.method == "CONNECT" {
			r.URL.Path = "/v1/workers/hello/http/"
		}
		fast := r.Clone(r.Context())
		taken := forwardRoute(fast)
		if taken != c.taken {
			t.Errorf("%s %s: forwardRoute took it: %v, want %v", c.method, c.target, taken, c.taken)
		}
		if !taken {
			continue
		}
		got = seen{}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		want := seen{fast.Pattern, fast.PathValue("id"), fast.PathValue("path")}
		if got != want || rec.Code != http.StatusOK {
			t.Errorf("%s %s: forwardRoute %+v, the mux %+v (status %d)", c.method, c.target, want, got, rec.Code)
		}
	}
}
