package engine_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/isobox/isobox/engine"
)

// TextDecoder and TextEncoder run in the glue's C for well-formed text (the runtime falls
// back to its JS decoder for the rest): on random text with sequences at UTF-8's edges, a
// fatal decoder throws exactly when Go's utf8.Valid says no, and otherwise gives Go's
// string; a non-fatal one gives the same string for valid input; and encoding it again
// gives the same bytes.
func TestUTF8MatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Sequences at the edges of well-formedness: overlong forms, surrogates, past U+10FFFF,
	// cut off, stray continuation bytes, and their valid neighbours.
	edges := []string{"\xc0\x80", "\xc1\xbf", "\xc2\x80", "\xdf\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
		"\xe0\xa0\x80", "\xed\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xee\x80\x80",
		"\xf0\x8f\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80", "\xff", "\x80", "\xbf", "\xe2\x82", "\xf0\x9f\x98", "\xc2", "\x00", "\x7f"}
	valid := []string{"a", "é", "€", "😀", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "\U00010000", "\U0010ffff"}
	var inputs [][]byte
	for range 3000 {
		var b []byte
		for range r.IntN(8) {
			b = append(b, valid[r.IntN(len(valid))]...)
		}
		if r.IntN(4) > 0 { // one edge, anywhere
			at := r.IntN(len(b) + 1)
			for at > 0 && at < len(b) && !utf8.RuneStart(b[at]) {
				at--
			}
			b = append(b[:at:at], append([]byte(edges[r.IntN(len(edges))]), b[at:]...)...)
		}
		if r.IntN(10) == 0 && len(b) > 0 { // or a random byte changed
			b[r.IntN(len(b))] = byte(r.IntN(256))
		}
		inputs = append(inputs, b)
	}
	arrays := make([][]int, len(inputs))
	nValid := 0
	for i, b := range inputs {
		arrays[i] = make([]int, len(b))
		for j, c := range b {
			arrays[i][j] = int(c)
		}
		if utf8.Valid(b) {
			nValid++
		}
	}
	if nValid < 500 || nValid > len(inputs)-500 {
		t.Fatalf("the inputs are not a mix: %d of %d valid", nValid, len(inputs))
	}
	in, _ := json.Marshal(arrays)
	sb := newSandbox(t, engine.SandboxConfig{})
	res, err := eval(t, sb, engine.Limits{}, `const fatal = new TextDecoder("utf-8", {fatal: true}), lax = new TextDecoder(), enc = new TextEncoder();
		`+string(in)+`.map((a) => {
			const bytes = new Uint8Array(a);
			let s = null;
			try { s = fatal.decode(bytes); } catch (e) { if (!(e instanceof TypeError)) throw e; }
			const again = s === null ? null : Array.from(enc.encode(s));
			return [s, s === null ? null : lax.decode(bytes), again];
		})`)
	if err != nil {
		t.Fatal(err)
	}
	var out [][3]any
	if err := json.Unmarshal(res.Value, &out); err != nil {
		t.Fatal(err)
	}
	for i, b := range inputs {
		s, lax, again := out[i][0], out[i][1], out[i][2]
		if !utf8.Valid(b) {
			if s != nil {
				t.Fatalf("% x is not UTF-8, but the fatal decoder gave %q", b, s)
			}
			continue
		}
		if s != string(b) || lax != string(b) {
			t.Fatalf("% x: fatal %q, lax %q, want %q", b, s, lax, string(b))
		}
		got, _ := json.Marshal(again)
		want, _ := json.Marshal(arrays[i])
		if string(got) != string(want) {
			t.Fatalf("% x encoded again: %s", b, got)
		}
	}
}
