// Package sandboxproc runs sandboxes in supervised worker processes: the second layer of
// DESIGN.md decision 5. A Pool (the supervisor, inside `isobox serve`) starts N copies of
// the isobox binary in worker mode, each holding an engine and a loader and nothing worth
// stealing: no store, no secrets, no egress gateway. The supervisor sends each process
// "invoke worker <id>" messages; the process asks back for the worker's code on a cold
// start and for every outbound fetch(), which the supervisor runs through the caller's
// transport (the egress gateway, with its policy, secrets and redaction) and streams back.
// A watchdog kills a process whose call overruns its deadline by a margin and starts a
// replacement.
//
// The wire is a length-prefixed binary framing over a Unix socket pair (fd 3 in the
// worker): a 13-byte header (payload length u32, message type u8, id u64, big-endian)
// and a payload: a compact binary form for the two messages of every call (codec.go),
// JSON for the other structured messages, raw bytes for body chunks. Many calls are
// multiplexed on one connection by id. A second file, fd 4, is the call board the CPU
// watchdog reads (board_linux.go). One spare process waits, its engine up and confined,
// to take the place of the next process that dies.
package sandboxproc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Message types. Ids name a call (assigned by the supervisor) or an outbound request
// (assigned by the worker process); the type says which.
const (
	// supervisor -> worker process
	msgConfig    byte = 1  // id 0: workerConfig, first frame of a connection
	msgInvoke    byte = 2  // id call: invokeMsg
	msgCancel    byte = 3  // id call: the caller gave up
	msgCode      byte = 4  // id call: codeMsg, the answer to msgCodeReq
	msgFetchHead byte = 5  // id request: fetchHead, the answer to msgFetch
	msgBodyChunk byte = 6  // id request: raw body bytes; an empty payload ends the body
	msgBodyError byte = 7  // id request: the body failed (payload: message)
	msgAssign    byte = 13 // id 0: assignMsg, the process's place (after msgEngineUp)
	// 8: msgToolResult (tools.go); 9: msgReqBodyRead (reqbody.go); 10, 11: msgSession,
	// msgCompile (sessions.go)
	// worker process -> supervisor
	msgResult    byte = 20 // id call: resultMsg
	msgCodeReq   byte = 21 // id call: the call needs its worker's code (a cold start)
	msgFetch     byte = 22 // id request: fetchMsg, an outbound fetch() of the sandbox
	msgBodyRead  byte = 23 // id request: send the next chunk of the response body
	msgBodyClose byte = 24 // id request: the sandbox is done with the response
	msgReady     byte = 25 // id 0: the loader is up; calls may come
	msgStarted   byte = 26 // id call: the call's thread id (u32) and its CPU time so far (u64 ns), when the call board is full or missing
	msgEngineUp  byte = 34 // id 0: the engine is up and the process confined; it waits for msgAssign
	// 27, 28: msgToolCall, msgToolCancel (tools.go); 29: msgReqBodyChunk (reqbody.go);
	// 30-32: msgSessionReply, msgSessionEvaled, msgCompileReply (sessions.go)
)

// headerSize is the framing's header: payload length, type, id.
const headerSize = 13

// maxFrame bounds a frame's payload: a result may carry a body of engine.MaxOutput plus
// logs. A larger length is a corrupt or hostile stream, and ends the connection.
const maxFrame = engine.MaxOutput + 64<<20

// chunkSize is the size of a streamed response body chunk.
const chunkSize = 64 << 10

// conn is one end of the framed connection: writes are serialised, reads are done by one
// goroutine (readFrame).
type conn struct {
	rw  io.ReadWriteCloser
	wmu sync.Mutex
	buf []byte
}

// send writes one frame.
func (c *conn) send(typ byte, id uint64, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("sandboxproc: frame of %d bytes is larger than %d", len(payload), maxFrame)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(typ, id, append(c.frame(), payload...))
}

// sendInvoke writes an invokeMsg in binary form, encoded straight into the write buffer.
func (c *conn) sendInvoke(id uint64, m *invokeMsg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(msgInvoke, id, appendInvoke(c.frame(), m))
}

// sendResult writes a resultMsg in binary form, encoded straight into the write buffer.
func (c *conn) sendResult(id uint64, m *resultMsg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(msgResult, id, appendResult(c.frame(), m))
}

// frame returns the write buffer with room for a header (c.wmu held).
func (c *conn) frame() []byte {
	if cap(c.buf) < headerSize {
		c.buf = make([]byte, 0, 4<<10)
	}
	return c.buf[:headerSize]
}

// writeLocked fills in the header of b (a frame of type typ that frame returned, payload
// appended) and writes it (c.wmu held). A large buffer is not kept.
func (c *conn) writeLocked(typ byte, id uint64, b []byte) error {
	n := len(b) - headerSize
	if cap(b) <= 1<<20 {
		c.buf = b[:0]
	} else {
		c.buf = nil
	}
	if n > maxFrame {
		return fmt.Errorf("sandboxproc: frame of %d bytes is larger than %d", n, maxFrame)
	}
	binary.BigEndian.PutUint32(b, uint32(n))
	b[4] = typ
	binary.BigEndian.PutUint64(b[5:], id)
	_, err := c.rw.Write(b)
	return err
}

// nudge wakes the reader of a connection through the rings if it sleeps, so that it asks
// its spin policy again (shmring.Conn.Nudge); on the socket it does nothing.
func (c *conn) nudge() {
	c.wmu.Lock()
	rw, _ := c.rw.(*ringWire)
	c.wmu.Unlock()
	if rw != nil {
		rw.Nudge()
	}
}

// sendJSON writes one frame with v as JSON.
func (c *conn) sendJSON(typ byte, id uint64, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sandboxproc: encode message %d: %w", typ, err)
	}
	return c.send(typ, id, b)
}

// readFrame reads one frame from r (the caller's buffered reader).
func readFrame(r io.Reader, hdr []byte) (typ byte, id uint64, payload []byte, err error) {
	if _, err = io.ReadFull(r, hdr[:headerSize]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr)
	if n > maxFrame {
		return 0, 0, nil, fmt.Errorf("sandboxproc: frame of %d bytes is larger than %d", n, maxFrame)
	}
	typ, id = hdr[4], binary.BigEndian.Uint64(hdr[5:])
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, fmt.Errorf("sandboxproc: short frame: %w", err)
	}
	return typ, id, payload, nil
}

// wireLimits is engine.Limits on the wire (durations in nanoseconds).
type wireLimits struct {
	CPU         int64  `json:"cpu,omitempty"`
	Wall        int64  `json:"wall,omitempty"`
	Memory      uint64 `json:"memory,omitempty"`
	SubRequests int    `json:"subRequests,omitempty"`
	Output      int    `json:"output,omitempty"`
	Logs        int    `json:"logs,omitempty"`
}

func toWireLimits(l engine.Limits) wireLimits {
	return wireLimits{CPU: int64(l.CPU), Wall: int64(l.Wall), Memory: l.Memory, SubRequests: l.SubRequests, Output: l.Output, Logs: l.Logs}
}

func (w wireLimits) engine() engine.Limits {
	return engine.Limits{CPU: time.Duration(w.CPU), Wall: time.Duration(w.Wall), Memory: w.Memory, SubRequests: w.SubRequests, Output: w.Output, Logs: w.Logs}
}

// workerConfig is the first frame: what the worker process's engine and loader need,
// but for its place (assignMsg).
type workerConfig struct {
	CacheDir string `json:"cacheDir,omitempty"`
	// ImagesDir is the folder the process confines itself to with its cache once its
	// engine is up ("": no hibernation); assignMsg then names it (it may have been renamed).
	ImagesDir    string     `json:"imagesDir,omitempty"`
	Defaults     wireLimits `json:"defaults"`
	MemoryBudget uint64     `json:"memoryBudget,omitempty"`
	// Board says that fd 4 is the process's call board (board_linux.go).
	Board bool `json:"board,omitempty"`
	// Ring, when not 0, is the file descriptor of the shared-memory rings (package
	// shmring) that carry every frame after msgReady; the socket then only tells each side
	// of the other's end.
	Ring int `json:"ring,omitempty"`
	// Threads is the process's GOMAXPROCS (0: Go's default).
	Threads int `json:"threads,omitempty"`
}

// assignMsg gives a process its place, once its engine is up and it is confined: at once,
// or when a spare takes the place of a process that died. The process then makes its
// loader, which hibernates to ImagesDir: its own folder (workerConfig.ImagesDir), under
// the place's name.
type assignMsg struct {
	ImagesDir string `json:"imagesDir,omitempty"` // "": no hibernation
}

// invokeMsg asks the worker process to run one call.
type invokeMsg struct {
	Op string `json:"op"` // fetch, call, eval, forget, stats
	// ID is the loader id of a stored worker ("" for a one-shot Load).
	ID string `json:"id,omitempty"`
	// Code is the code of a one-shot Load (Op fetch or call with no ID).
	Code        json.RawMessage `json:"code,omitempty"`
	Tenant      string          `json:"tenant,omitempty"`
	HasOutbound bool            `json:"hasOutbound,omitempty"`
	Snippet     string          `json:"snippet,omitempty"` // eval
	Python      bool            `json:"python,omitempty"`  // eval: Snippet is Python
	Method      string          `json:"method,omitempty"`
	Args        json.RawMessage `json:"args,omitempty"`
	Request     *engineRequest  `json:"request,omitempty"`
	Limits      wireLimits      `json:"limits"`
	// Stream: the caller has a sink, so a fetch's stream body is sent as it is produced
	// (respond.go).
	Stream bool `json:"stream,omitempty"`
	// Lone: no other call was in flight in the whole pool when this one was sent, so the
	// process's reader spins for the next call once this one ends (ring.go).
	Lone bool `json:"lone,omitempty"`
	// onSlot (in the worker process, not on the wire) notes on the call board when the
	// call took its worker's slot.
	onSlot func()
}

// engineRequest is a fetch() into a worker.
type engineRequest struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers,omitempty"`
	Body    []byte      `json:"body,omitempty"`
}

// codeMsg answers msgCodeReq: a stored worker's code, or why it is not there.
type codeMsg struct {
	Code        json.RawMessage `json:"code,omitempty"` // api.WorkerCode
	Tenant      string          `json:"tenant,omitempty"`
	HasOutbound bool            `json:"hasOutbound,omitempty"`
	Err         *isoerr.Error   `json:"err,omitempty"`
	// Changed is set when the error is the server's "code changed while loading": the
	// caller routes again.
	Changed bool `json:"changed,omitempty"`
}

// resultMsg is a call's outcome (loader.Result and its error).
type resultMsg struct {
	None       bool            `json:"none,omitempty"` // the loader gave no result
	Status     int             `json:"status,omitempty"`
	StatusText string          `json:"statusText,omitempty"`
	Headers    [][2]string     `json:"headers,omitempty"`
	Body       []byte          `json:"body,omitempty"`
	Value      json.RawMessage `json:"value,omitempty"`
	Logs       []engine.Log    `json:"logs,omitempty"`
	CPU        int64           `json:"cpu,omitempty"`
	Wall       int64           `json:"wall,omitempty"`
	Cold       bool            `json:"cold,omitempty"`
	Restored   bool            `json:"restored,omitempty"`
	Resumed    bool            `json:"resumed,omitempty"`
	Err        *isoerr.Error   `json:"err,omitempty"`
	Changed    bool            `json:"changed,omitempty"`
	Extra      json.RawMessage `json:"extra,omitempty"` // stats
	Streamed   bool            `json:"streamed,omitempty"`
}

// fetchMsg is an outbound fetch() of a sandbox, for the supervisor to run.
type fetchMsg struct {
	Route    string      `json:"route"`
	Worker   string      `json:"worker,omitempty"`
	Redirect string      `json:"redirect,omitempty"`
	Method   string      `json:"method"`
	URL      string      `json:"url"`
	Headers  [][2]string `json:"headers,omitempty"`
	Body     []byte      `json:"body,omitempty"`
	HasBody  bool        `json:"hasBody,omitempty"`
	// Streamed: the body (larger than one chunk) follows chunk by chunk, as the
	// supervisor's transport reads it (reqbody.go); Length is its length, -1 unknown.
	Streamed bool  `json:"streamed,omitempty"`
	Length   int64 `json:"length,omitempty"`
}

// fetchHead answers msgFetch: the response's head (its body follows on request) or an
// error.
type fetchHead struct {
	Err        string      `json:"err,omitempty"`
	Status     int         `json:"status,omitempty"`
	StatusText string      `json:"statusText,omitempty"`
	Headers    [][2]string `json:"headers,omitempty"`
	FinalURL   string      `json:"finalURL,omitempty"`
}
