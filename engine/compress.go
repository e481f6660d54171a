package engine

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"time"
)

// The codec operations are the host side of CompressionStream and DecompressionStream
// (runtime/js/55_streams.js): the guest opens a codec, feeds it chunks and reads back what
// came out, all on Go's compress/flate, compress/gzip and compress/zlib. A codec belongs to
// the invocation that opened it and is closed when the invocation ends.
//
// Bounds, so that a tenant cannot turn the host's memory or CPU against its neighbours:
//   - at most maxCodecs open at once per invocation (a compressor holds about 1 MiB);
//   - a decompressor hands its output out in slices of at most codecSlice bytes, and
//     everything the invocation's decompressors produce together stops at the sandbox's
//     memory limit (SandboxConfig.Memory): a decompression bomb ends with RangeError, having never
//     held more than one slice in the host;
//   - a decompressor runs on its own goroutine (Go's readers cannot be resumed after
//     running out of input); the CPU time it spends is added to the invocation's.
const (
	maxCodecs  = 16
	codecSlice = 256 << 10
)

// codecOps are the synchronous operations of CompressionStream and DecompressionStream.
var codecOps = []hostOp{
	{name: "codec_open", in: `JSON {"format":"gzip|deflate|deflate-raw","mode":"compress|decompress"}`, out: "decimal codec handle",
		doc:  fmt.Sprintf("Opens a compressor or decompressor for the invocation (at most %d open at once: RangeError beyond).", maxCodecs),
		sync: (*Sandbox).opCodecOpen},
	{name: "codec_write", in: "the handle (4 bytes, little-endian), then a chunk of input", out: "a flag byte (1: more output is waiting, call again with no input), then output bytes",
		doc: fmt.Sprintf("Feeds a chunk to a codec and answers the output it produced, at most %d KiB at once for a decompressor. "+
			"Corrupt input throws TypeError; decompressed output past the sandbox's memory limit in total (per invocation) throws RangeError.", codecSlice>>10),
		sync: (*Sandbox).opCodecWrite},
	{name: "codec_finish", in: "the handle (4 bytes, little-endian)", out: "as codec_write",
		doc:  "Ends a codec's input: a compressor's last bytes, or a decompressor's check that its input was complete (truncated input throws TypeError).",
		sync: (*Sandbox).opCodecFinish},
	{name: "codec_close", in: `JSON {"handle":n}`, out: "empty", doc: "Closes a codec (a canceled or finished stream).", sync: (*Sandbox).opCodecClose},
}

// codecs are an invocation's open codecs.
type codecs struct {
	open     map[int]codec
	next     int
	inflated int // bytes all decompressors handed out
}

// codec is one open compressor or decompressor.
type codec interface {
	// step feeds input (finish: the end of it) and returns output and whether more waits.
	step(input []byte, finish bool) (out []byte, more bool, cpu time.Duration, err error)
	close()
}

// closeAll closes every codec still open (the invocation ended).
func (c *codecs) closeAll() {
	if c == nil {
		return
	}
	for h, k := range c.open {
		k.close()
		delete(c.open, h)
	}
}

func (sb *Sandbox) opCodecOpen(in []byte) ([]byte, error) {
	var a struct{ Format, Mode string }
	if err := decode("codec_open", in, &a); err != nil {
		return nil, err
	}
	inv := sb.inv
	if inv.codecs == nil {
		inv.codecs = &codecs{open: map[int]codec{}}
	}
	t := inv.codecs
	if len(t.open) >= maxCodecs {
		return nil, &hostError{name: "RangeError", msg: fmt.Sprintf("too many open compression streams: at most %d per invocation", maxCodecs)}
	}
	var k codec
	switch a.Mode {
	case "compress":
		d, err := newDeflater(a.Format)
		if err != nil {
			return nil, err
		}
		k = d
	case "decompress":
		if !validFormat(a.Format) {
			return nil, typeError("unsupported compression format %q", a.Format)
		}
		k = newInflater(inv, a.Format)
	default:
		return nil, typeError("codec_open: mode must be compress or decompress")
	}
	t.next++
	t.open[t.next] = k
	return []byte(strconv.Itoa(t.next)), nil
}

func validFormat(f string) bool { return f == "gzip" || f == "deflate" || f == "deflate-raw" }

func (sb *Sandbox) opCodecWrite(in []byte) ([]byte, error) { return sb.codecStep(in, false) }

func (sb *Sandbox) opCodecFinish(in []byte) ([]byte, error) { return sb.codecStep(in, true) }

func (sb *Sandbox) codecStep(in []byte, finish bool) ([]byte, error) {
	inv := sb.inv
	if len(in) < 4 {
		return nil, typeError("codec: the payload must start with a 4-byte handle")
	}
	h := int(binary.LittleEndian.Uint32(in))
	var k codec
	if inv.codecs != nil {
		k = inv.codecs.open[h]
	}
	if k == nil {
		return nil, typeError("codec: the compression stream is closed")
	}
	out, more, cpu, err := k.step(in[4:], finish)
	inv.cpu += cpu
	if err == nil {
		if _, ok := k.(*inflater); ok {
			inv.codecs.inflated += len(out)
			if limit := sb.mem.limit; uint64(inv.codecs.inflated) > limit {
				err = &hostError{name: "RangeError", msg: fmt.Sprintf("decompressed data exceeds the sandbox's memory limit of %d bytes", limit)}
			}
		}
	}
	if err != nil {
		k.close()
		delete(inv.codecs.open, h)
		return nil, err
	}
	flag := byte(0)
	if more {
		flag = 1
	}
	return append([]byte{flag}, out...), nil
}

func (sb *Sandbox) opCodecClose(in []byte) ([]byte, error) {
	var a struct{ Handle int }
	if err := decode("codec_close", in, &a); err != nil {
		return nil, err
	}
	if t := sb.inv.codecs; t != nil {
		if k := t.open[a.Handle]; k != nil {
			k.close()
			delete(t.open, a.Handle)
		}
	}
	return nil, nil
}

// deflater is a compressor: it runs on the caller's goroutine (the guest's thread, so its
// CPU time is the guest's).
type deflater struct {
	buf bytes.Buffer
	w   io.WriteCloser
}

func newDeflater(format string) (*deflater, error) {
	d := &deflater{}
	switch format {
	case "gzip":
		d.w = gzip.NewWriter(&d.buf)
	case "deflate":
		d.w = zlib.NewWriter(&d.buf)
	case "deflate-raw":
		w, err := flate.NewWriter(&d.buf, flate.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("codec_open: %w", err)
		}
		d.w = w
	default:
		return nil, typeError("unsupported compression format %q", format)
	}
	return d, nil
}

func (d *deflater) step(input []byte, finish bool) ([]byte, bool, time.Duration, error) {
	if _, err := d.w.Write(input); err != nil {
		return nil, false, 0, typeError("compression failed: %v", err)
	}
	if finish {
		if err := d.w.Close(); err != nil {
			return nil, false, 0, typeError("compression failed: %v", err)
		}
	}
	out := bytes.Clone(d.buf.Bytes())
	d.buf.Reset()
	return out, false, 0, nil
}

func (d *deflater) close() {}

// inflater is a decompressor. Go's readers pull their input and cannot go on after it ran
// out, so the reader runs on a goroutine that asks for input when it needs some: each step
// hands it a chunk and waits until it has used all of it (or filled a slice of output).
// The two sides take turns; the goroutine never runs while the guest does.
type inflater struct {
	req  chan inflateMsg
	resp chan inflateStep
	dead bool // the goroutine has returned (its last step said so)

	// goroutine side
	in       []byte
	ended    bool // the guest finished the input
	out      []byte
	full     bool          // the last step handed out a whole slice
	stepCPU  time.Duration // the thread CPU clock (or wall time) when the step began
	threadOK bool
	began    time.Time
}

type inflateMsg struct {
	chunk  []byte
	finish bool
}

type inflateStep struct {
	out  []byte
	more bool
	done bool
	err  error
	cpu  time.Duration
}

// errCodecClosed unwinds the goroutine of a codec closed while it waited.
var errCodecClosed = errors.New("codec closed")

func newInflater(inv *invocation, format string) *inflater {
	d := &inflater{req: make(chan inflateMsg), resp: make(chan inflateStep, 1)}
	inv.spawn(func() { d.run(format) })
	return d
}

func (d *inflater) step(input []byte, finish bool) ([]byte, bool, time.Duration, error) {
	if d.dead {
		if len(input) > 0 {
			return nil, false, 0, typeError("decompression failed: data after the end of the compressed stream")
		}
		return nil, false, 0, nil
	}
	d.req <- inflateMsg{chunk: bytes.Clone(input), finish: finish}
	r := <-d.resp
	if r.done {
		d.dead = true
		close(d.req)
	}
	return r.out, r.more, r.cpu, r.err
}

func (d *inflater) close() {
	if !d.dead {
		d.dead = true
		close(d.req)
	}
}

// begin and yield bracket the goroutine's turns: begin when a message arrives, yield to
// answer it and wait for the next (false: the codec was closed).
func (d *inflater) begin() {
	runtime.LockOSThread()
	d.began = time.Now()
	d.stepCPU, d.threadOK = threadCPU()
}

func (d *inflater) spent() time.Duration {
	if d.threadOK {
		if t, ok := threadCPU(); ok {
			return t - d.stepCPU
		}
	}
	return time.Since(d.began)
}

func (d *inflater) answer(s inflateStep) {
	s.cpu = d.spent()
	s.out = d.out
	d.out = nil
	runtime.UnlockOSThread()
	d.resp <- s
}

func (d *inflater) yield(more bool) bool {
	d.full = more
	d.answer(inflateStep{more: more})
	return d.receive()
}

func (d *inflater) receive() bool {
	m, ok := <-d.req
	if !ok {
		return false
	}
	d.begin()
	d.in = append(d.in, m.chunk...)
	if m.finish {
		d.ended = true
	}
	return true
}

// Read and ReadByte are the reader's input (ReadByte keeps flate from reading ahead, so
// that data after the end of the stream stays visible).
func (d *inflater) Read(p []byte) (int, error) {
	for len(d.in) == 0 {
		if d.ended {
			return 0, io.EOF
		}
		if !d.yield(false) {
			return 0, errCodecClosed
		}
	}
	n := copy(p, d.in)
	d.in = d.in[n:]
	return n, nil
}

func (d *inflater) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := d.Read(b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *inflater) run(format string) {
	if !d.receive() {
		return
	}
	err := d.inflate(format)
	if errors.Is(err, errCodecClosed) {
		return
	}
	if err != nil {
		d.answer(inflateStep{done: true, err: typeError("decompression failed: %v", corruptReason(err))})
		return
	}
	d.answer(inflateStep{done: true})
}

// inflate decompresses until the stream ended and the guest finished its input.
func (d *inflater) inflate(format string) error {
	var r io.Reader
	var err error
	switch format {
	case "gzip":
		var g *gzip.Reader
		g, err = gzip.NewReader(d)
		r = g
	case "deflate":
		r, err = zlib.NewReader(d)
	default:
		r = flate.NewReader(d)
	}
	if err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		room := codecSlice - len(d.out)
		if room <= 0 {
			if !d.yield(true) {
				return errCodecClosed
			}
			continue
		}
		// Read may yield (hand d.out to the host) while it waits for input, so it reads
		// into buf, and d.out is appended to after.
		n, err := r.Read(buf[:min(room, len(buf))])
		if d.out == nil && n > 0 {
			// after a full slice, the next is likely full too (a large output): one
			// allocation; otherwise start small, for a stream of small chunks
			size := 32 << 10
			if d.full {
				size = codecSlice
			}
			d.out = make([]byte, 0, size)
		}
		d.out = append(d.out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	// The compressed stream ended: anything after it is an error, once the guest finishes.
	for {
		if len(d.in) > 0 {
			return errors.New("data after the end of the compressed stream")
		}
		if d.ended {
			return nil
		}
		if !d.yield(false) {
			return errCodecClosed
		}
	}
}

// corruptReason words a reader's error for the guest.
func corruptReason(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the compressed data is truncated"
	}
	return err.Error()
}
