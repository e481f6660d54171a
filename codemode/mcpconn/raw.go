package mcpconn

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// rawSchemas keeps the tools' schemas as the server wrote them. The go-sdk client decodes
// a tool's inputSchema and outputSchema into maps, which lose the order of their
// properties; the TypeScript a model reads should list them as the server's author did
// (the required ones usually first). So the connection keeps the text of every
// tools/list result it sees go by, and a tool's schema is taken from that text when it
// is the very schema the SDK decoded.
type rawSchemas struct {
	mu    sync.Mutex
	ids   map[any]bool // tools/list requests sent and not answered yet (connection wrapper)
	tools map[string]rawTool
}

type rawTool struct{ in, out json.RawMessage }

func newRawSchemas() *rawSchemas {
	return &rawSchemas{ids: map[any]bool{}, tools: map[string]rawTool{}}
}

// maxRawResult bounds the tools/list result kept for its text; a larger one is decoded
// by the SDK alone (its schemas then list their properties in sorted order).
const maxRawResult = 16 << 20

// record keeps the schemas of a tools/list result.
func (r *rawSchemas) record(result json.RawMessage) {
	var res struct {
		Tools []struct {
			Name         string          `json:"name"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
		} `json:"tools"`
	}
	if json.Unmarshal(result, &res) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range res.Tools {
		r.tools[t.Name] = rawTool{in: t.InputSchema, out: t.OutputSchema}
	}
}

// schema returns the JSON text of the schema the SDK decoded into decoded: the server's
// own text when it says the same, else decoded marshalled again.
func (r *rawSchemas) schema(tool string, output bool, decoded any) json.RawMessage {
	r.mu.Lock()
	rt, ok := r.tools[tool]
	r.mu.Unlock()
	raw := rt.in
	if output {
		raw = rt.out
	}
	if ok && len(raw) > 0 {
		var v any
		if json.Unmarshal(raw, &v) == nil && reflect.DeepEqual(v, decoded) {
			return raw
		}
	}
	b, _ := json.Marshal(decoded)
	return b
}

// watch returns t with its tools/list results recorded in r: a streamable HTTP transport
// gets an HTTP client that reads them off the responses (its connection must stay the
// SDK's own, which the SDK tells about the session); any other transport has its
// connection wrapped.
func (r *rawSchemas) watch(t mcp.Transport) mcp.Transport {
	if st, ok := t.(*mcp.StreamableClientTransport); ok {
		cp := *st
		hc := http.DefaultClient
		if cp.HTTPClient != nil {
			hc = cp.HTTPClient
		}
		client := *hc
		rt := client.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		client.Transport = &recordingRoundTripper{rt: rt, raw: r}
		cp.HTTPClient = &client
		return &cp
	}
	return &recordingTransport{t: t, raw: r}
}

type recordingTransport struct {
	t   mcp.Transport
	raw *rawSchemas
}

func (t *recordingTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.t.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Connection: c, raw: t.raw}, nil
}

// recordingConn notes the ids of the tools/list requests it writes and records the
// results of the responses it reads with those ids, before the SDK sees them.
type recordingConn struct {
	mcp.Connection
	raw *rawSchemas
}

func (c *recordingConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if req, ok := msg.(*jsonrpc.Request); ok && req.Method == "tools/list" && req.ID.IsValid() {
		c.raw.mu.Lock()
		c.raw.ids[req.ID.Raw()] = true
		c.raw.mu.Unlock()
	}
	return c.Connection.Write(ctx, msg)
}

func (c *recordingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if resp, ok := msg.(*jsonrpc.Response); ok && resp.ID.IsValid() {
		c.raw.mu.Lock()
		mine := c.raw.ids[resp.ID.Raw()]
		delete(c.raw.ids, resp.ID.Raw())
		c.raw.mu.Unlock()
		if mine && resp.Error == nil && len(resp.Result) <= maxRawResult {
			c.raw.record(resp.Result)
		}
	}
	return msg, err
}

// recordingRoundTripper records the answer to a tools/list POST of the streamable HTTP
// transport: a JSON body is read at once (it is one message), an event stream as the SDK
// reads it, each event before the SDK gets its bytes.
type recordingRoundTripper struct {
	rt  http.RoundTripper
	raw *rawSchemas
}

func (t *recordingRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	id, ok := toolsListID(req)
	if !ok {
		return t.rt.RoundTrip(req)
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxRawResult+1))
		if err != nil || len(b) > maxRawResult {
			resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
			return resp, nil
		}
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		t.raw.recordMessage(id, b)
	case "text/event-stream":
		resp.Body = &sseRecorder{ReadCloser: resp.Body, id: id, raw: t.raw}
	}
	return resp, nil
}

// toolsListID returns the id of the tools/list request req carries, if it carries one.
func toolsListID(req *http.Request) (any, bool) {
	if req.Method != http.MethodPost || req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return nil, false
	}
	msg, err := jsonrpc.DecodeMessage(b)
	if err != nil {
		return nil, false
	}
	if r, ok := msg.(*jsonrpc.Request); ok && r.Method == "tools/list" && r.ID.IsValid() {
		return r.ID.Raw(), true
	}
	return nil, false
}

// recordMessage records b if it is the successful answer to request id.
func (r *rawSchemas) recordMessage(id any, b []byte) {
	msg, err := jsonrpc.DecodeMessage(b)
	if err != nil {
		return
	}
	if resp, ok := msg.(*jsonrpc.Response); ok && resp.Error == nil && resp.ID.IsValid() && resp.ID.Raw() == id {
		r.record(resp.Result)
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// sseRecorder parses the event stream it passes on, and records the event that answers
// the request. Lines end with LF or CRLF; a stream that ends them with a lone CR is
// passed on all the same, and its schemas come from the SDK's maps (sorted).
type sseRecorder struct {
	io.ReadCloser
	id   any
	raw  *rawSchemas
	line []byte // the partial line
	data []byte // the data of the event being read
	off  bool   // an event was too large to keep: stop looking
}

func (s *sseRecorder) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if !s.off {
		s.feed(p[:n])
	}
	return n, err
}

func (s *sseRecorder) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.line = append(s.line, b...)
			break
		}
		s.line = append(s.line, b[:i]...)
		b = b[i+1:]
		line := bytes.TrimSuffix(s.line, []byte("\r"))
		switch {
		case len(line) == 0:
			if len(s.data) > 0 {
				s.raw.recordMessage(s.id, s.data)
			}
			s.data = s.data[:0]
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(line[len("data:"):], []byte(" "))
			if len(s.data) > 0 {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, v...)
		}
		s.line = s.line[:0]
	}
	if len(s.line)+len(s.data) > maxRawResult {
		s.off, s.line, s.data = true, nil, nil
	}
}
