package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The hand-written invocation messages decode to what encoding/json made of the same
// values, for every string a request may carry: quotes, backslashes, control characters
// (NUL above all: the message crosses as a C string), invalid UTF-8, U+2028, astral runes.
func TestMessagesMatchEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `q"uote`, `back\slash`, "nul\x00byte", "ctl\x01\x1f\x7f", "nl\r\n\t",
		"bad\xffutf8\xc3", "\u2028\u2029", "<>&", "é😀", string([]byte{0xed, 0xa0, 0x80})}
	for _, s := range strs {
		req := &Request{Method: s, URL: "http://x/" + s, Headers: [][2]string{{s, s}, {"a", "b"}}, Body: []byte(s)}
		for _, props := range []json.RawMessage{nil, json.RawMessage(`{"k": [1, "v"]}`)} {
			got, err := fetchMessage(s, props, req)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(pythonFetchMessage(s, props, req))
			same(t, got, want)
			got, err = callMessage(s, s, json.RawMessage(`[1,"x"]`), props)
			if err != nil {
				t.Fatal(err)
			}
			want, _ = json.Marshal(map[string]any{"type": "call", "entrypoint": s, "method": s, "args": json.RawMessage(`[1,"x"]`), "props": rawOrNull(props)})
			same(t, got, want)
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
	if !json.Valid(got) || !utf8.Valid(got) {
		t.Fatalf("not valid JSON in UTF-8: %q", got)
	}
	for _, c := range got {
		if c == 0 {
			t.Fatalf("raw NUL in %q", got)
		}
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	splitHeaders(g)
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
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
		if joined := strings.Contains(string(got), `"headers":"`); joined != tt.joined {
			t.Fatalf("%q: joined %v, want %v", got, joined, tt.joined)
		}
	}
}
