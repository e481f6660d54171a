package sandboxproc

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// The hot messages (msgInvoke, msgResult: two per call) are written in a compact binary
// form instead of JSON: JSON with base64 bodies cost a few µs per message on each side
// (RATIONALE §18). A payload that starts with its magic byte is binary; one that starts
// with '{' is JSON, which the decoders still accept, so a rare message may be sent with
// sendJSON. The form, after the magic byte: a flags byte, then the fields in a fixed order,
// integers as (u)varints, strings and byte strings as a uvarint length and the bytes, lists
// as a uvarint count and the items. Nothing is optional but what the flags say.
const (
	magicInvoke byte = 0xB1
	magicResult byte = 0xB2
)

// Flags of a binary invokeMsg.
const (
	invHasOutbound = 1 << iota
	invHasRequest
	invPython // an eval's Snippet is Python
	invStream // a fetch's response may stream to the supervisor (respond.go)
	invLone   // no other call was in flight in the pool (ring.go)
)

// Flags of a binary resultMsg.
const (
	resNone = 1 << iota
	resCold
	resRestored
	resResumed
	resChanged
	resHasErr
	resStreamed // the response went out in msgRespHead/msgRespChunk frames (respond.go)
)

// appendInvoke appends m in binary form to b.
func appendInvoke(b []byte, m *invokeMsg) []byte {
	b = append(b, magicInvoke, flag(m.HasOutbound, invHasOutbound)|flag(m.Request != nil, invHasRequest)|flag(m.Python, invPython)|flag(m.Stream, invStream)|flag(m.Lone, invLone))
	b = appendString(b, m.Op)
	b = appendString(b, m.ID)
	b = appendBytes(b, m.Code)
	b = appendString(b, m.Tenant)
	b = appendString(b, m.Snippet)
	b = appendString(b, m.Method)
	b = appendBytes(b, m.Args)
	l := m.Limits
	b = binary.AppendVarint(b, l.CPU)
	b = binary.AppendVarint(b, l.Wall)
	b = binary.AppendUvarint(b, l.Memory)
	b = binary.AppendVarint(b, int64(l.SubRequests))
	b = binary.AppendVarint(b, int64(l.Output))
	b = binary.AppendVarint(b, int64(l.Logs))
	if r := m.Request; r != nil {
		b = appendString(b, r.Method)
		b = appendString(b, r.URL)
		b = appendHeaders(b, r.Headers)
		b = appendBytes(b, r.Body)
	}
	return b
}

// decodeInvoke reads an invokeMsg, binary or JSON. Byte strings of a binary message alias
// p.
//
// # Errors
//
// When p is neither form, is truncated or has bytes left over.
func decodeInvoke(p []byte, m *invokeMsg) error {
	if len(p) > 0 && p[0] == '{' {
		return json.Unmarshal(p, m)
	}
	d := decoder{p: p}
	if d.byte() != magicInvoke && d.err == nil {
		return errors.New("sandboxproc: not an invoke message")
	}
	flags := d.byte()
	*m = invokeMsg{HasOutbound: flags&invHasOutbound != 0, Python: flags&invPython != 0, Stream: flags&invStream != 0, Lone: flags&invLone != 0}
	m.Op = d.string()
	m.ID = d.string()
	m.Code = d.bytes()
	m.Tenant = d.string()
	m.Snippet = d.string()
	m.Method = d.string()
	m.Args = d.bytes()
	m.Limits = wireLimits{CPU: d.varint(), Wall: d.varint(), Memory: d.uvarint(),
		SubRequests: d.int(), Output: d.int(), Logs: d.int()}
	if flags&invHasRequest != 0 {
		r := &engineRequest{Method: d.string(), URL: d.string()}
		r.Headers = d.headers()
		r.Body = d.bytes()
		m.Request = r
	}
	return d.end("invoke")
}

// appendResult appends m in binary form to b.
func appendResult(b []byte, m *resultMsg) []byte {
	flags := flag(m.None, resNone) | flag(m.Cold, resCold) | flag(m.Restored, resRestored) |
		flag(m.Resumed, resResumed) | flag(m.Changed, resChanged) | flag(m.Err != nil, resHasErr) | flag(m.Streamed, resStreamed)
	b = append(b, magicResult, flags)
	b = binary.AppendUvarint(b, uint64(max(m.Status, 0)))
	b = appendString(b, m.StatusText)
	b = appendHeaders(b, m.Headers)
	b = appendBytes(b, m.Body)
	b = appendBytes(b, m.Value)
	b = binary.AppendUvarint(b, uint64(len(m.Logs)))
	for _, l := range m.Logs {
		b = appendString(b, l.Level)
		b = appendString(b, l.Message)
		t := int64(math.MinInt64) // the zero time
		if !l.Time.IsZero() {
			t = l.Time.UnixNano()
		}
		b = binary.AppendVarint(b, t)
	}
	b = binary.AppendVarint(b, m.CPU)
	b = binary.AppendVarint(b, m.Wall)
	if e := m.Err; e != nil {
		b = appendString(b, string(e.Code))
		b = appendString(b, e.Message)
		b = appendString(b, e.Stack)
	}
	return appendBytes(b, m.Extra)
}

// decodeResult reads a resultMsg, binary or JSON. Byte strings of a binary message alias
// p.
//
// # Errors
//
// When p is neither form, is truncated or has bytes left over.
func decodeResult(p []byte, m *resultMsg) error {
	if len(p) > 0 && p[0] == '{' {
		return json.Unmarshal(p, m)
	}
	d := decoder{p: p}
	if d.byte() != magicResult && d.err == nil {
		return errors.New("sandboxproc: not a result message")
	}
	flags := d.byte()
	*m = resultMsg{None: flags&resNone != 0, Cold: flags&resCold != 0, Restored: flags&resRestored != 0,
		Resumed: flags&resResumed != 0, Changed: flags&resChanged != 0, Streamed: flags&resStreamed != 0}
	status := d.uvarint()
	if status > math.MaxInt32 {
		d.fail("status")
	}
	m.Status = int(status)
	m.StatusText = d.string()
	m.Headers = d.headers()
	m.Body = d.bytes()
	m.Value = d.bytes()
	if n := d.count(3); n > 0 { // a log line is at least three bytes
		m.Logs = make([]engine.Log, n)
		for i := range m.Logs {
			l := &m.Logs[i]
			l.Level, l.Message = d.string(), d.string()
			if t := d.varint(); t != math.MinInt64 {
				l.Time = time.Unix(0, t)
			}
		}
	}
	m.CPU, m.Wall = d.varint(), d.varint()
	if flags&resHasErr != 0 {
		m.Err = &isoerr.Error{Code: isoerr.Code(d.string()), Message: d.string(), Stack: d.string()}
	}
	m.Extra = d.bytes()
	return d.end("result")
}

func flag(on bool, bit byte) byte {
	if on {
		return bit
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendHeaders(b []byte, h [][2]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(h)))
	for _, kv := range h {
		b = appendString(b, kv[0])
		b = appendString(b, kv[1])
	}
	return b
}

// decoder reads a binary message. The first error sticks: later reads return zero values,
// and no length read from the message can make it allocate more than the message's size
// or read past its end.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("sandboxproc: bad or truncated %s", what)
	}
	d.p = nil
}

func (d *decoder) byte() byte {
	if len(d.p) == 0 {
		d.fail("message")
		return 0
	}
	c := d.p[0]
	d.p = d.p[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail("integer")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail("integer")
		return 0
	}
	d.p = d.p[n:]
	return v
}

// int reads a varint that must fit an int32 (a limit or a count).
func (d *decoder) int() int {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("integer")
		return 0
	}
	return int(v)
}

// bytes reads a byte string (nil when empty), aliasing the message.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.p)) {
		d.fail("length")
		return nil
	}
	if n == 0 {
		return nil
	}
	s := d.p[:n:n]
	d.p = d.p[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

// count reads the number of items of a list whose items take at least min bytes each: a
// count the rest of the message cannot hold is an error.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.p)/min) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) headers() [][2]string {
	n := d.count(2) // two empty strings
	if n == 0 {
		return nil
	}
	h := make([][2]string, n)
	for i := range h {
		h[i] = [2]string{d.string(), d.string()}
	}
	return h
}

// end reports the first error, or bytes left over.
func (d *decoder) end(what string) error {
	if d.err != nil {
		return d.err
	}
	if len(d.p) > 0 {
		return fmt.Errorf("sandboxproc: %d bytes after the %s message", len(d.p), what)
	}
	return nil
}
