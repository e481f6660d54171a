package egress

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// chunks is a body that arrives in the given pieces.
type chunks struct {
	parts [][]byte
	err   error // returned after the last part instead of io.EOF, when set
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	if c.parts[0] = c.parts[0][n:]; len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func (c *chunks) Close() error { return nil }

func redactAll(t testing.TB, r *redactor, src io.ReadCloser) string {
	t.Helper()
	b, err := io.ReadAll(r.reader(src))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRedactSplitEverywhere(t *testing.T) {
	const tok = "ghp_SECRETsecret0123"
	var r redactor
	r.add(tok, "other-secret-value-that-is-longer-than-tok")
	body := `{"authorization": "Bearer ` + tok + `", "again": "` + tok + tok + `"}`
	want := `{"authorization": "Bearer [redacted]", "again": "[redacted][redacted]"}`
	// Every way of cutting the body in two, and in three around the secrets.
	for i := 0; i <= len(body); i++ {
		for _, j := range []int{i, min(i+1, len(body)), min(i+7, len(body)), len(body)} {
			src := &chunks{parts: [][]byte{[]byte(body[:i]), []byte(body[i:j]), []byte(body[j:])}}
			if got := redactAll(t, &r, src); got != want {
				t.Fatalf("split at %d,%d: %s", i, j, got)
			}
		}
	}
	if got := redactAll(t, &r, io.NopCloser(iotest.OneByteReader(strings.NewReader(body)))); got != want {
		t.Fatalf("one byte at a time: %s", got)
	}
	if got := redactAll(t, &r, io.NopCloser(strings.NewReader(tok))); got != redacted {
		t.Fatalf("secret alone: %s", got)
	}
	if got := redactAll(t, &r, io.NopCloser(strings.NewReader("ghp_SECRETsecret012"))); got != "ghp_SECRETsecret012" {
		t.Fatalf("a prefix of the secret at EOF is not the secret: %s", got)
	}
}

// When one secret is the start of another, the longer one is redacted whole, even when
// the stream breaks right after the shorter.
func TestRedactLongestWins(t *testing.T) {
	var r redactor
	r.add("abc", "abcdefghij")
	src := &chunks{parts: [][]byte{[]byte("x abc"), []byte("defghij y abc")}}
	if got := redactAll(t, &r, src); got != "x [redacted] y [redacted]" {
		t.Fatal(got)
	}
}

// An error mid-stream returns the error, never the held-back tail (which may be half a
// secret).
func TestRedactErrorKeepsTail(t *testing.T) {
	var r redactor
	r.add("0123456789")
	boom := errors.New("boom")
	got, err := io.ReadAll(r.reader(&chunks{parts: [][]byte{[]byte("hello 01234")}, err: boom}))
	if !errors.Is(err, boom) || strings.Contains(string(got), "0123") {
		t.Fatalf("%q %v", got, err)
	}
}

func TestRedactForms(t *testing.T) {
	const odd = `a<b>&"c"/d\e f`
	var r redactor
	r.add(odd)
	var html, plain bytes.Buffer
	_ = json.NewEncoder(&html).Encode(odd)
	e := json.NewEncoder(&plain)
	e.SetEscapeHTML(false)
	_ = e.Encode(odd)
	for _, f := range []string{odd, strings.TrimSpace(html.String()), strings.TrimSpace(plain.String()),
		`"` + url.QueryEscape(odd) + `"`, `"` + url.PathEscape(odd) + `"`} {
		f = strings.Trim(f, `"`)
		if got := r.string("pre " + f + " post"); got != "pre [redacted] post" {
			t.Errorf("%s -> %s", f, got)
		}
	}
	h := http.Header{"X-Echo": {"Bearer " + odd}, http.CanonicalHeaderKey("x-" + strings.ToLower("TOKEN")): {"1"}}
	var r2 redactor
	r2.add("ToKeN")
	r2.header(h)
	if _, ok := h["X-Token"]; ok {
		t.Error("a header named after a secret (in another case) is kept")
	}
	r.header(h)
	if h.Get("X-Echo") != "Bearer [redacted]" {
		t.Error(h)
	}
}

// BenchmarkRedact: the redactor's throughput on a JSON body that holds no secret.
//
//	go test ./egress -run X -bench Redact
func BenchmarkRedact(b *testing.B) {
	var r redactor
	r.add("ghp_SECRETsecret0123", `sk_live/Ab+cd=ef&<g>"h'i\j%41 k`)
	body := bytes.Repeat([]byte(`{"id": 12345, "name": "a \"quoted\" name", "url": "https:\/\/example.com\/a%20b?x=1&amp;y=2"},`+"\n"), 1<<14)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, r.reader(io.NopCloser(bytes.NewReader(body)))); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRedactStreamsEvents: a server-sent event that holds nothing like a secret is
// returned whole as soon as it arrives, not when the next one does (a streaming answer is
// not delayed by redaction), and one that holds a secret comes out redacted.
func TestRedactStreamsEvents(t *testing.T) {
	var r redactor
	r.add("sk_live/Ab+cd=ef&<g>q")
	pr, pw := io.Pipe()
	rd := r.reader(pr)
	defer rd.Close()
	for _, ev := range []struct{ in, want string }{
		{"data: {\"delta\": \"hello\"}\n\n", "data: {\"delta\": \"hello\"}\n\n"},
		{"data: {\"k\": \"sk_live\\/Ab+cd=ef\\u0026\\u003cg\\u003eq\"}\r\n\r\n", "data: {\"k\": \"[redacted]\"}\r\n\r\n"},
		{"event: done\ndata: QUJD\n\n", "event: done\ndata: QUJD\n\n"},
	} {
		go pw.Write([]byte(ev.in))
		got := make(chan string, 1)
		go func() {
			b := make([]byte, len(ev.want))
			_, err := io.ReadFull(rd, b)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(b)
		}()
		select {
		case g := <-got:
			if g != ev.want {
				t.Fatalf("%q: %q", ev.in, g)
			}
		case <-time.After(time.Minute): // a hang guard
			t.Fatalf("%q is held back until more arrives", ev.in)
		}
	}
	pw.Close()
}
