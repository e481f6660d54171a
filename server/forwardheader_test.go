package server

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The forwarded request's headers are the caller's without isobox's own and the hop-by-hop
// ones, exactly as Clone and a Del of each made them.
func TestForwardHeader(t *testing.T) {
	tests := []http.Header{
		{},
		{"Accept": {"*/*"}, "User-Agent": {"wdbench"}},
		{"Authorization": {"Bearer k"}, TenantHeader: {"t"}, "X-A": {"1", "2"}, "X-B": {""}},
		{"Connection": {"keep-alive, X-Secret ,,close"}, "X-Secret": {"s"}, "Keep-Alive": {"5"}, "Close": {"c"}, "X-Kept": {"k"}},
		{"Connection": {"x-lower"}, "X-Lower": {"dropped"}, "Te": {"trailers"}, "Trailer": {"X"}, "Upgrade": {"h2c"}},
		{"Connection": {"Other"}, "Other": {"kept: only the first Connection header counts"}, "Proxy-Authorization": {"p"}},
		{"X-Nil": nil, "X-Empty": {}, "non canonical key": {"v"}, "Transfer-Encoding": {"chunked"}, "Proxy-Connection": {"x"}},
	}
	tests[5]["Connection"] = append(tests[5]["Connection"], "Second")
	tests[5]["Second"] = []string{"kept"}
	for i, h := range tests {
		want := h.Clone()
		want.Del("Authorization")
		want.Del(TenantHeader)
		for _, n := range hopHeaders {
			want.Del(n)
		}
		for _, n := range strings.Split(h.Get("Connection"), ",") {
			if n = strings.TrimSpace(n); n != "" {
				want.Del(n)
			}
		}
		before := h.Clone()
		got := forwardHeader(h)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d: forwardHeader(%v) = %v, want %v", i, h, got, want)
		}
		if !reflect.DeepEqual(h, before) {
			t.Errorf("%d: forwardHeader changed its input: %v, was %v", i, h, before)
		}
		for k, vs := range got { // a copy: appending to one value list leaves the others
			if len(vs) > 0 {
				got[k] = append(vs, "appended")
			}
		}
		if !reflect.DeepEqual(h, before) {
			t.Errorf("%d: the copy shares its values with the input", i)
		}
	}
}
