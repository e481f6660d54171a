package session

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// A session's record in the image store holds its options and its state:
//
//	"ISOBOXSESSION1\n" | uint32 little-endian length of the options | options (JSON) | image
//
// where image is an engine.Image as Marshal writes it (its own checksum covers it). One file
// per session keeps the two consistent: a Put replaces both at once.
const recordMagic = "ISOBOXSESSION1\n"

// maxOptions bounds the options part of a record (an egress policy is a few KiB at most).
const maxOptions = 1 << 20

// encodeRecord returns the stored form of a session.
func encodeRecord(opts Options, image []byte) ([]byte, error) {
	meta, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encoding the session's options: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(recordMagic) + 4 + len(meta) + len(image))
	b.WriteString(recordMagic)
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(meta)))
	b.Write(meta)
	b.Write(image)
	return b.Bytes(), nil
}

// decodeRecord reads a record written by encodeRecord. A record without the magic is an
// image written before sessions had options: it has none.
func decodeRecord(b []byte) (Options, []byte, error) {
	var opts Options
	rest, ok := bytes.CutPrefix(b, []byte(recordMagic))
	if !ok {
		return opts, b, nil
	}
	if len(rest) < 4 {
		return opts, nil, fmt.Errorf("the session record is truncated")
	}
	n := binary.LittleEndian.Uint32(rest)
	if n > maxOptions || int(n) > len(rest)-4 {
		return opts, nil, fmt.Errorf("the session record's options are %d bytes, more than it holds", n)
	}
	if err := json.Unmarshal(rest[4:4+n], &opts); err != nil {
		return opts, nil, fmt.Errorf("the session record's options do not decode: %w", err)
	}
	return opts, rest[4+n:], nil
}
