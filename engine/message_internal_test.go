package engine

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The hand-written invocation messages decode to what encoding/json made of the same
// values, for every string a request may carry: quotes, backslashes, control characters
// (NUL above all: the message crosses as a C string), the record separator, invalid
// UTF-8, U+2028, astral runes. Strings a record can carry as they are go as a record, the
// others as JSON.
func TestMessagesMatchEncodingJSON(t *testing.T) {
	strs := []struct {
		s      string
		record bool // a record can carry it, as a header too
	}{
		{"", true}, {"plain", true}, {`q"uote`, true}, {`back\slash`, true}, {"nul\x00byte", false},
		{"ctl\x01\x1f\x7f", false}, {"sep\x1f", false}, {"ctl\x01\x7f\t\r", true}, {"nl\r\n\t", false},
		{"bad\xffutf8\xc3", false}, {"\u2028\u2029", true}, {"<>&", true}, {"é😀", true},
		{string([]byte{0xed, 0xa0, 0x80}), false},
	}
	for _, tt := range strs {
		s := tt.s
		req := &Request{Method: s, URL: "http://x/" + s, Headers: [][2]string{{s, s}, {"a", "b"}}, Body: []byte(s)}
		for _, props := range []json.RawMessage{nil, json.RawMessage(`{"k": [1, "v"]}`)} {
			got, err := fetchMessage(s, props, req)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(pythonFetchMessage(s, props, req))
			if isRecord(got) != tt.record {
				t.Fatalf("fetch of %q: record %v, want %v: %q", s, isRecord(got), tt.record, got)
			}
			same(t, got, want)
			got, err = callMessage(s, s, json.RawMessage(`[1,"x"]`), props)
			if err != nil {
				t.Fatal(err)
			}
			if record := !strings.ContainsAny(s, "\x00\x1f") && utf8.ValidString(s); isRecord(got) != record {
				t.Fatalf("call of %q: record %v, want %v: %q", s, isRecord(got), record, got)
			}
			want, _ = json.Marshal(map[string]any{"type": "call", "entrypoint": s, "method": s, "args": json.RawMessage(`[1,"x"]`), "props": rawOrNull(props)})
			same(t, got, want)
		}
		got := evalMessage(s)
		if record := !strings.ContainsAny(s, "\x00\x1f") && utf8.ValidString(s); isRecord(got) != record {
			t.Fatalf("eval of %q: record %v, want %v: %q", s, isRecord(got), record, got)
		}
		want, _ := json.Marshal(map[string]any{"type": "eval", "code": s})
		same(t, got, want)
	}
	// A streamed fetch says so in either form; a body that is empty is not a missing one.
	for _, s := range []string{"plain", "nul\x00"} {
		for _, body := range [][]byte{nil, {}} {
			req := &Request{Method: "POST", URL: "http://x/", Headers: [][2]string{{"k", s}}, Body: body, Sink: nopSink{}}
			got, err := fetchMessage("", nil, req)
			if err != nil {
				t.Fatal(err)
			}
			m := decoded(t, got).(map[string]any)
			r := m["request"].(map[string]any)
			if r["stream"] != true || (r["body"] == nil) != (body == nil) {
				t.Fatalf("%q: stream %v, body %#v", got, r["stream"], r["body"])
			}
		}
	}
	if _, err := fetchMessage("", json.RawMessage(`{"unterminated`), &Request{}); err == nil {
		t.Fatal("props that are not JSON were accepted")
	}
	if _, err := callMessage("", "m", json.RawMessage(`[]`), json.RawMessage(`}`)); err == nil {
		t.Fatal("props that are not JSON were accepted")
	}
}

func same(t *testing.T, got, want []byte) {
	t.Helper()
	g := decoded(t, got)
	splitHeaders(g)
	var w any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %q\nwant %s", got, want)
	}
}

type nopSink struct{}

func (nopSink) Head(int, string, [][2]string) error { return nil }
func (nopSink) Write(context.Context, []byte) error { return nil }

// isRecord says whether a message is a record (the runtime tells it by its first byte).
func isRecord(msg []byte) bool { return len(msg) > 0 && msg[0] != '{' }

// decoded is what the runtime's dispatcher reads of a message (90_worker.js), in the JSON
// form's shape: a JSON message parsed, or a record's fields (dispatchRecord).
func decoded(t *testing.T, msg []byte) any {
	t.Helper()
	if !utf8.Valid(msg) || strings.IndexByte(string(msg), 0) >= 0 {
		t.Fatalf("a message the runtime cannot read as a C string of UTF-8: %q", msg)
	}
	if !isRecord(msg) {
		var v any
		if err := json.Unmarshal(msg, &v); err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		return v
	}
	f := strings.Split(string(msg), "\x1f")
	parse := func(s string) any {
		if s == "" {
			return nil
		}
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%q: field %q: %v", msg, s, err)
		}
		return v
	}
	switch {
	case f[0] == "fetch" && len(f) == 8:
		var body any
		if f[6] != "" {
			body = f[6][1:]
		}
		r := map[string]any{"method": f[3], "url": f[4], "headers": f[5], "body": body}
		if f[7] == "1" {
			r["stream"] = true
		}
		return map[string]any{"type": "fetch", "entrypoint": f[1], "props": parse(f[2]), "request": r}
	case f[0] == "eval" && len(f) == 2:
		return map[string]any{"type": "eval", "code": f[1]}
	case f[0] == "call" && len(f) == 5:
		return map[string]any{"type": "call", "entrypoint": f[1], "method": f[2], "args": parse(f[3]), "props": parse(f[4])}
	}
	t.Fatalf("not a record the runtime reads: %q", msg)
	return nil
}

// splitHeaders turns a fetch message's joined "headers" string (appendHeaders) into the
// [name, value] pairs the runtime makes of it (headersFromHost in 50_fetch.js).
func splitHeaders(msg any) {
	m, _ := msg.(map[string]any)
	r, _ := m["request"].(map[string]any)
	s, ok := r["headers"].(string)
	if !ok {
		return
	}
	pairs := []any{}
	if s != "" {
		parts := strings.Split(s, "\n")
		for i := 0; i+1 < len(parts); i += 2 {
			pairs = append(pairs, []any{parts[i], parts[i+1]})
		}
	}
	r["headers"] = pairs
}

// The fetch message joins headers into one string unless a name or value holds a newline,
// and then sends the pairs; both decode to the same pairs, an empty list included.
func TestFetchMessageHeaders(t *testing.T) {
	for _, tt := range []struct {
		headers [][2]string
		joined  bool
	}{
		{nil, true},
		{[][2]string{{"a", ""}, {"", "b"}, {"c", "d"}}, true},
		{[][2]string{{"a", "x\ny"}}, false},
		{[][2]string{{"a\n", "y"}, {"b", "c"}}, false},
		{[][2]string{{"q\"", "\\\r\x00\xff"}}, true},
	} {
		req := &Request{Method: "GET", URL: "http://x/", Headers: tt.headers}
		got, err := fetchMessage("", nil, req)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(pythonFetchMessage("", nil, req))
		same(t, got, want)
		r := decoded(t, got).(map[string]any)["request"].(map[string]any)
		if _, joined := r["headers"].(string); joined != tt.joined {
			t.Fatalf("%q: joined %v, want %v", got, joined, tt.joined)
		}
	}
}
