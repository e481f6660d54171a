package engine

import (
	"encoding/json"
	"reflect"
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
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
