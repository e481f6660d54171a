package sandboxproc

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Frames round-trip, and a stream that lies about a frame's length or ends inside one is
// refused with an error (a worker process is not trusted to frame correctly).
func TestFraming(t *testing.T) {
	var buf bytes.Buffer
	c := &conn{rw: nopCloser{&buf}}
	if err := c.send(msgInvoke, 7, []byte(`{"op":"call"}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.send(msgBodyChunk, 1<<40, nil); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, headerSize)
	typ, id, p, err := readFrame(&buf, hdr)
	if err != nil || typ != msgInvoke || id != 7 || string(p) != `{"op":"call"}` {
		t.Fatalf("first frame: %d %d %q %v", typ, id, p, err)
	}
	typ, id, p, err = readFrame(&buf, hdr)
	if err != nil || typ != msgBodyChunk || id != 1<<40 || len(p) != 0 {
		t.Fatalf("second frame: %d %d %q %v", typ, id, p, err)
	}

	huge := make([]byte, headerSize)
	binary.BigEndian.PutUint32(huge, maxFrame+1)
	short := make([]byte, headerSize+2)
	binary.BigEndian.PutUint32(short, 10)
	for _, tt := range []struct {
		name, want string
		in         []byte
	}{
		{"length over the bound", "larger than", huge},
		{"ends inside the payload", "short frame", short},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := readFrame(bytes.NewReader(tt.in), hdr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// fullInvoke and fullResult set every field of the hot messages.
func fullInvoke() invokeMsg {
	return invokeMsg{Op: "fetch", ID: "w@v1", Code: []byte(`{"mainModule":"m.js"}`), Tenant: "t", HasOutbound: true, Lone: true, Stream: true,
		Snippet: "1+1", Method: "inc", Args: []byte(`[1,"é"]`),
		Request: &engineRequest{Method: "POST", URL: "http://x/ü?q=1", Headers: [][2]string{{"A", "1"}, {"A", ""}, {"", "b"}}, Body: []byte{0, 1, 2, 0xff}},
		Limits:  wireLimits{CPU: 50e6, Wall: -1, Memory: 1 << 40, SubRequests: 50, Output: 1 << 30, Logs: -7}}
}

func fullResult() resultMsg {
	return resultMsg{None: true, Status: 599, StatusText: "Odd", Headers: [][2]string{{"Content-Type", "text/plain"}},
		Body: []byte("body\x00"), Value: []byte(`{"a":1}`), Logs: []engine.Log{{Level: "warn", Message: "m", Time: time.Unix(0, 1_700_000_000_123_456_789)}, {Level: "log"}},
		CPU: 123, Wall: -5, Cold: true, Restored: true, Resumed: true, Changed: true,
		Err: &isoerr.Error{Code: isoerr.CPULimitExceeded, Message: "over", Stack: "at x"}, Extra: []byte(`{"workers":1}`)}
}

// The binary form of the hot messages round-trips every field (the zero message too),
// and the decoders still read JSON, the form of the rare messages.
func TestCodecRoundTrip(t *testing.T) {
	for _, m := range []invokeMsg{fullInvoke(), {}, {Op: "call", ID: "x", Method: "m"}, {Op: "eval", Snippet: "1 + 1", Python: true}} {
		var got invokeMsg
		if err := decodeInvoke(appendInvoke(nil, &m), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("invoke: got %+v, want %+v", got, m)
		}
	}
	for _, m := range []resultMsg{fullResult(), {}, {Status: 200, Body: []byte("hi")}} {
		var got resultMsg
		if err := decodeResult(appendResult(nil, &m), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("result: got %+v, want %+v", got, m)
		}
	}
	var inv invokeMsg
	if err := decodeInvoke([]byte(`{"op":"stats","limits":{"cpu":5}}`), &inv); err != nil || inv.Op != "stats" || inv.Limits.CPU != 5 {
		t.Fatalf("JSON invoke: %+v %v", inv, err)
	}
	var res resultMsg
	if err := decodeResult([]byte(`{"status":201,"err":{"code":"internal_error","message":"x"}}`), &res); err != nil || res.Status != 201 || res.Err.Code != isoerr.Internal {
		t.Fatalf("JSON result: %+v %v", res, err)
	}
}

// A message cut anywhere, or one that claims more than it holds, is an error: never a
// panic, and never an allocation larger than the message (a worker process is not
// trusted to encode correctly).
func TestCodecRefusesBadMessages(t *testing.T) {
	inv, res := fullInvoke(), fullResult()
	for name, enc := range map[string][]byte{"invoke": appendInvoke(nil, &inv), "result": appendResult(nil, &res)} {
		decode := func(p []byte) error {
			if name == "invoke" {
				var m invokeMsg
				return decodeInvoke(p, &m)
			}
			var m resultMsg
			return decodeResult(p, &m)
		}
		for i := range enc {
			if err := decode(enc[:i]); err == nil {
				t.Fatalf("%s cut at %d of %d: no error", name, i, len(enc))
			}
		}
		if err := decode(append(enc[:len(enc):len(enc)], 0)); err == nil || !strings.Contains(err.Error(), "bytes after") {
			t.Fatalf("%s with a byte left over: %v", name, err)
		}
	}
	huge := binary.AppendUvarint([]byte{magicResult, 0, 0, 0}, 1<<62) // 2^62 headers
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"the other message's magic", []byte{magicInvoke, 0}},
		{"a count the message cannot hold", huge},
		{"a length past the end", binary.AppendUvarint([]byte{magicResult, 0, 0}, 1<<40)},
		{"a varint that overflows", []byte{magicResult, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"a status out of range", binary.AppendUvarint([]byte{magicResult, 0}, 1<<40)},
		{"bad JSON", []byte(`{"status":`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m resultMsg
			if err := decodeResult(tt.in, &m); err == nil {
				t.Fatalf("decoded %+v", m)
			}
		})
	}
}
