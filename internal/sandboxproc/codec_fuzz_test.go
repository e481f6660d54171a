package sandboxproc

import (
	"bytes"
	"reflect"
	"testing"
)

// The decoders of the hot messages read what a worker process (untrusted) writes: any
// input gives a message or an error, never a panic, and a decoded message encodes to a
// form that decodes to the same message (and to the same bytes again).
func FuzzDecodeHotMessages(f *testing.F) {
	inv, res := fullInvoke(), fullResult()
	f.Add(appendInvoke(nil, &inv))
	f.Add(appendResult(nil, &res))
	f.Add(appendResult(nil, &resultMsg{Status: 200, Body: []byte("hi")}))
	f.Add([]byte(`{"op":"call","id":"x","args":[1]}`))
	f.Add([]byte(`{"status":200,"headers":[["a","b"]],"body":"aGk="}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		var m invokeMsg
		if decodeInvoke(p, &m) == nil {
			enc := appendInvoke(nil, &m)
			var m2 invokeMsg
			if err := decodeInvoke(enc, &m2); err != nil {
				t.Fatalf("re-encoded invoke does not decode: %v", err)
			}
			if enc2 := appendInvoke(nil, &m2); !bytes.Equal(enc, enc2) {
				t.Fatalf("invoke encoding is not stable")
			}
			if p[0] != '{' && !reflect.DeepEqual(m, m2) {
				t.Fatalf("invoke: %+v became %+v", m, m2)
			}
		}
		var r resultMsg
		if decodeResult(p, &r) == nil {
			enc := appendResult(nil, &r)
			var r2 resultMsg
			if err := decodeResult(enc, &r2); err != nil {
				t.Fatalf("re-encoded result does not decode: %v", err)
			}
			if enc2 := appendResult(nil, &r2); !bytes.Equal(enc, enc2) {
				t.Fatalf("result encoding is not stable")
			}
			if p[0] != '{' && !reflect.DeepEqual(r, r2) {
				t.Fatalf("result: %+v became %+v", r, r2)
			}
		}
	})
}
