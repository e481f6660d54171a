package sandboxproc

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
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
