package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// errWorkerChanged: the code fetched for a cold start is not the version the invocation
// was routed to (a PUT raced it). The invocation is routed again.
var errWorkerChanged = errors.New("the worker's code changed while it was being loaded")

// loaderID is the loader's id for version hash of stored worker id.
func loaderID(id, hash string) string { return id + "@" + strings.TrimPrefix(hash, "sha256:") }

// stub returns the loader stub of stored worker id's current code. The loader id carries
// the code's hash: new code never meets a warm sandbox of the old, and a PUT or DELETE
// makes the loader forget the old version's sandboxes.
func (s *Server) stub(ctx context.Context, inv *invocation) (workerStub, error) {
	id := inv.worker
	st, err := s.st.StatWorker(ctx, id)
	if err != nil {
		return nil, storeError(err)
	}
	hash := st.Hash
	if err := s.admitLoad(inv, hash); err != nil {
		return nil, err
	}
	tenant := inv.tenant
	return s.sb.Get(loaderID(id, hash), func() (loader.WorkerCode, error) {
		w, err := s.st.GetWorker(context.WithoutCancel(ctx), id)
		if err != nil {
			return loader.WorkerCode{}, storeError(err)
		}
		if w.Hash != hash {
			return loader.WorkerCode{}, errWorkerChanged
		}
		var body codeBody
		if err := json.Unmarshal(w.Code, &body); err != nil {
			return loader.WorkerCode{}, isoerr.New(isoerr.Internal, "stored code of worker %q does not decode: %v", id, err)
		}
		code, policy, err := body.code()
		if err != nil {
			return code, err
		}
		// The ceiling as of this load: a worker that sets no memory limit gets it when the
		// default is over it, and one stored before the ceiling was lowered is refused.
		if err := s.memoryCeiling(tenant, &code.Limits); err != nil {
			return code, err
		}
		owner, name := api.SplitScoped(id)
		ownCode(owner, &code)
		code.Outbound, err = s.outbound(id, policy)
		code.Outbound = s.meteredOutbound(code.Outbound, tenant, name, hash) // the row of its calls
		return code, err
	}), nil
}

// invocation is one call of a worker through the API.
type invocation struct {
	id     string // "inv_..." in the X-Isobox-Invocation header and in log lines
	route  string // fetch, call, http, run, eval: the metrics label
	worker string // the stored worker, "" for /v1/run

	// Metering and quotas (usage.go).
	tenant  string
	hash    string // the stored worker's code hash, once known
	session string // the session of a session eval
	oneShot bool   // a one-shot load: a unique worker of its own
	release func() // gives the quota slot back
}

// invokeStored runs call on stored worker id's stub, routing again when a PUT raced a
// cold start. A nil result with an error means nothing ran (no such worker).
func (s *Server) invokeStored(ctx context.Context, inv *invocation, call func(workerStub) (*loader.Result, error)) (*loader.Result, error) {
	for attempt := 0; ; attempt++ {
		stub, err := s.stub(ctx, inv)
		if err != nil {
			return nil, err
		}
		res, err := call(stub)
		if errors.Is(err, errWorkerChanged) && attempt < 5 {
			continue
		}
		return res, err
	}
}

// record feeds an invocation's result to the metrics and, for stored workers, its console
// output to the log hub.
func (s *Server) record(inv invocation, res *loader.Result, err error) {
	s.metrics.observe(inv.route, res, err)
	s.meterInvocation(inv, res)
	if inv.worker != "" && res != nil && len(res.Logs) > 0 {
		s.logs.publish(inv.worker, inv.id, res.Logs)
	}
}

// respond writes an invocation's Outcome: 200 when it succeeded, else the status of its
// error code (the body is then an Outcome whose error field is the typed error).
func respond(w http.ResponseWriter, inv invocation, kind loader.Kind, res *loader.Result, err error) {
	w.Header().Set("X-Isobox-Invocation", inv.id)
	if res == nil {
		writeError(w, err)
		return
	}
	out := loader.NewOutcome(kind, res, err)
	status := http.StatusOK
	if out.Error != nil {
		status = StatusOf(out.Error.Code)
		noteError(w, out.Error.Code)
	}
	writeJSON(w, status, out)
}

// startInvocation checks the draining state and the tenant's quotas; when it says ok the
// caller defers s.endInvocation(inv).
func (s *Server) startInvocation(w http.ResponseWriter, r *http.Request, route, worker string) (invocation, bool) {
	if err := s.begin(); err != nil {
		writeError(w, err)
		return invocation{}, false
	}
	inv := invocation{id: newID("inv_"), route: route, worker: worker, tenant: s.requestTenant(r)}
	if !s.admit(w, &inv) {
		s.end()
		return invocation{}, false
	}
	return inv, true
}

func (s *Server) handleFetch(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	inv, ok := s.startInvocation(w, r, "fetch", id)
	if !ok {
		return
	}
	defer s.endInvocation(inv)
	var fr api.FetchRequest
	if err := s.decodeJSON(w, r, &fr, true, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	req, err := fetchRequest(r.Context(), &fr)
	if err != nil {
		writeError(w, err)
		return
	}
	body, _ := fetchBody(&fr) // checked by fetchRequest
	res, err := s.invokeStored(r.Context(), &inv, func(st workerStub) (*loader.Result, error) {
		req.Body, req.ContentLength = http.NoBody, 0
		if len(body) > 0 {
			req.Body, req.ContentLength = readCloser(body), int64(len(body))
		}
		return st.Fetch(r.Context(), req)
	})
	s.record(inv, res, err)
	respond(w, inv, loader.KindFetch, res, err)
}

// validMethod bounds an RPC method name: any JS property name a caller would type, 1 to
// 256 characters (bytes that are not UTF-8 count one each), none of them a control
// character. It is a loop, not the regular expression it replaces: compiling
// [^\x00-\x1f\x7f]{1,256} made 256 copies of the class at every process start (2.8 ms of
// `isobox eval`'s start on a slow machine).
func validMethod(s string) bool {
	n := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
		n++
	}
	return n >= 1 && n <= 256
}

func (s *Server) handleCall(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	inv, ok := s.startInvocation(w, r, "call", id)
	if !ok {
		return
	}
	defer s.endInvocation(inv)
	method := r.PathValue("method")
	if !validMethod(method) {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "invalid method name %q: 1 to 256 characters, no control characters", method))
		return
	}
	args, err := s.readArgs(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := s.invokeStored(r.Context(), &inv, func(st workerStub) (*loader.Result, error) {
		return st.Call(r.Context(), method, args)
	})
	s.record(inv, res, err)
	respond(w, inv, loader.KindCall, res, err)
}

// readArgs reads RPC arguments: a JSON array, or nothing for none.
func (s *Server) readArgs(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	b, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var arr []json.RawMessage
	if err := decodeStrict(b, &arr, true, isoerr.InvalidRequest); err != nil {
		return nil, err
	}
	if arr == nil {
		return json.RawMessage("[]"), nil
	}
	return bytes.TrimSpace(b), nil
}

// hopHeaders are connection-level headers that never cross a proxy (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forwardHeader is a copy of h without isobox's headers (Authorization, Isobox-Tenant), the
// hop-by-hop headers and those the first Connection header names: h.Clone() and a Del of
// each, in one pass (TestForwardHeader holds the two equal).
func forwardHeader(h http.Header) http.Header {
	var named []string // canonical names the Connection header lists
	if c := h["Connection"]; len(c) > 0 {
		for _, t := range strings.Split(c[0], ",") {
			if t = strings.TrimSpace(t); t != "" {
				named = append(named, textproto.CanonicalMIMEHeaderKey(t))
			}
		}
	}
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	values := make([]string, 0, n) // one array for all values, as Clone does
	out := make(http.Header, len(h))
	for k, vs := range h {
		if k == "Authorization" || k == TenantHeader || slices.Contains(hopHeaders, k) || slices.Contains(named, k) {
			continue
		}
		if vs == nil {
			out[k] = nil
			continue
		}
		values = append(values, vs...)
		out[k] = values[len(values)-len(vs) : len(values) : len(values)]
	}
	return out
}

// handleForward hands the raw request to the worker's fetch handler: the path after
// /http and the query become the URL's path and query, the Host header its host. The
// Authorization and Isobox-Tenant headers (isobox's) and hop-by-hop headers are removed. The
// worker's response is written back as it is, plus X-Isobox-* headers.
func (s *Server) handleForward(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	inv, ok := s.startInvocation(w, r, "http", id)
	if !ok {
		return
	}
	defer s.endInvocation(inv)
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: r.Host, Path: "/" + r.PathValue("path"), RawQuery: r.URL.RawQuery}
	// Keep the caller's escaping of the path (PathValue is decoded): what follows
	// /v1/workers/{id}/http.
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/v1/workers/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = strings.TrimPrefix(rest[i:], "/http")
		if rest == "" {
			rest = "/"
		}
		if p, err := url.PathUnescape(rest); err == nil {
			u.Path, u.RawPath = p, rest
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
	if err != nil {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "cannot forward this request: %v", err))
		return
	}
	req.Header = forwardHeader(r.Header)
	// A Response whose body is a ReadableStream reaches the client as it is produced
	// (server/stream.go); HEAD answers only the head, as before.
	var sink *forwardSink
	if r.Method != http.MethodHead {
		sink = newForwardSink(w, inv)
	}
	res, err := s.invokeStored(r.Context(), &inv, func(st workerStub) (*loader.Result, error) {
		req.Body, req.ContentLength = http.NoBody, 0
		if len(body) > 0 {
			req.Body, req.ContentLength = readCloser(body), int64(len(body))
		}
		if sink == nil {
			return st.Fetch(r.Context(), req)
		}
		return st.FetchTo(r.Context(), req, sink)
	})
	s.record(inv, res, err)
	if sink != nil && sink.head {
		sink.finish(res, err)
		return
	}
	if err != nil {
		respond(w, inv, loader.KindFetch, res, err)
		return
	}
	h := w.Header()
	for _, kv := range res.Headers {
		if skipResponseHeader(kv[0]) {
			continue
		}
		h.Add(kv[0], kv[1])
	}
	h.Set("X-Isobox-Invocation", inv.id)
	h.Set("X-Isobox-Cold", strconv.FormatBool(res.Cold))
	h.Set("X-Isobox-Cpu-Ms", strconv.FormatFloat(float64(res.CPU.Microseconds())/1000, 'f', 3, 64))
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	status := res.Status
	if status < 200 || status > 599 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(res.Body)
	}
}

func skipResponseHeader(name string) bool {
	if strings.EqualFold(name, "Content-Length") {
		return true
	}
	for _, h := range hopHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// runBody is the body of POST /v1/run (api.RunRequest, with the code's presence told
// apart from "").
type runBody struct {
	Worker   *codeBody         `json:"worker,omitempty"`
	Request  *api.FetchRequest `json:"request,omitempty"`
	Call     *api.RunCall      `json:"call,omitempty"`
	Code     *string           `json:"code,omitempty"`
	Language string            `json:"language,omitempty"`
	Limits   *api.Limits       `json:"limits,omitempty"`
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	inv, ok := s.startInvocation(w, r, "run", "")
	if !ok {
		return
	}
	defer s.endInvocation(inv)
	var body runBody
	if err := s.decodeJSON(w, r, &body, false, isoerr.InvalidWorkerCode); err != nil {
		writeError(w, err)
		return
	}
	switch {
	case (body.Worker == nil) == (body.Code == nil):
		writeError(w, isoerr.New(isoerr.InvalidRequest, "give exactly one of worker (WorkerCode) and code (a snippet)"))
		return
	case body.Code != nil && (body.Request != nil || body.Call != nil):
		writeError(w, isoerr.New(isoerr.InvalidRequest, "request and call apply to worker, not to code"))
		return
	case body.Worker != nil && body.Limits != nil:
		writeError(w, isoerr.New(isoerr.InvalidRequest, "limits applies to code; for a worker set worker.limits"))
		return
	case body.Request != nil && body.Call != nil:
		writeError(w, isoerr.New(isoerr.InvalidRequest, "give request (fetch) or call (RPC), not both"))
		return
	case body.Worker != nil && body.Language != "":
		writeError(w, isoerr.New(isoerr.InvalidRequest, "language applies to code; a worker's language is its modules'"))
		return
	}
	lang, err := api.CheckLanguage(body.Language)
	if err != nil {
		writeError(w, err)
		return
	}
	p := principalOf(r)
	if body.Code != nil {
		if l := body.Limits; l != nil && (l.CPUMs < 0 || l.WallMs < 0 || l.MemoryMB < 0 || l.SubRequests < 0) {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "limits must not be negative"))
			return
		}
		if err := s.checkOperatorOnly(p, body.Limits, nil); err != nil {
			writeError(w, err)
			return
		}
		inv.route = "eval"
		if err := s.admitRun(&inv, &body.Limits); err != nil {
			writeError(w, err)
			return
		}
		out, err := s.outbound(p.Prefix(), nil)
		if err != nil {
			writeError(w, err)
			return
		}
		out = s.meteredOutbound(out, inv.tenant, "", "")
		res, err := s.sb.Eval(r.Context(), *body.Code, loader.EvalOptions{Limits: loader.EngineLimits(body.Limits), Outbound: out, Python: lang == api.LanguagePython, Tenant: inv.tenant})
		s.record(inv, res, err)
		respond(w, inv, loader.KindCall, res, err)
		return
	}
	code, policy, err := body.Worker.code()
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.checkOperatorOnly(p, code.Limits, policy); err != nil {
		writeError(w, err)
		return
	}
	ownCode(p.Tenant, &code)
	if code.Outbound, err = s.outbound(p.Prefix(), policy); err != nil {
		writeError(w, err)
		return
	}
	code.Outbound = s.meteredOutbound(code.Outbound, inv.tenant, "", "")
	if err := s.admitRun(&inv, &code.Limits); err != nil {
		writeError(w, err)
		return
	}
	var args json.RawMessage
	var req *http.Request
	if body.Call != nil {
		if !validMethod(body.Call.Method) {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "invalid call.method %q: 1 to 256 characters, no control characters", body.Call.Method))
			return
		}
		args = json.RawMessage("[]")
		if len(body.Call.Args) > 0 && string(body.Call.Args) != "null" {
			var arr []json.RawMessage
			if err := json.Unmarshal(body.Call.Args, &arr); err != nil {
				writeError(w, isoerr.New(isoerr.InvalidRequest, "call.args must be a JSON array"))
				return
			}
			args = body.Call.Args
		}
	} else {
		fr := body.Request
		if fr == nil {
			fr = &api.FetchRequest{}
		}
		if req, err = fetchRequest(r.Context(), fr); err != nil {
			writeError(w, err)
			return
		}
	}
	stub := s.sb.Load(code)
	defer stub.Close(context.WithoutCancel(r.Context()))
	var res *loader.Result
	kind := loader.KindFetch
	if body.Call != nil {
		kind = loader.KindCall
		res, err = stub.Call(r.Context(), body.Call.Method, args)
	} else {
		res, err = stub.Fetch(r.Context(), req)
	}
	s.record(inv, res, err)
	respond(w, inv, kind, res, err)
}

var tokenPattern = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// fetchRequest turns a FetchRequest into the http.Request handed to the worker.
func fetchRequest(ctx context.Context, fr *api.FetchRequest) (*http.Request, error) {
	method := fr.Method
	if method == "" {
		method = http.MethodGet
	}
	if !tokenPattern.MatchString(method) {
		return nil, isoerr.New(isoerr.InvalidRequest, "invalid method %q", method)
	}
	raw := fr.URL
	if raw == "" {
		raw = "http://localhost/"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, isoerr.New(isoerr.InvalidRequest, "url %q must be an absolute http or https URL", raw)
	}
	body, err := fetchBody(fr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "bad request: %v", err)
	}
	for k, v := range fr.Headers {
		if !tokenPattern.MatchString(k) {
			return nil, isoerr.New(isoerr.InvalidRequest, "invalid header name %q", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, isoerr.New(isoerr.InvalidRequest, "header %q has a CR, LF or NUL in its value", k)
		}
		req.Header.Set(k, v)
	}
	if len(body) > 0 {
		req.Body, req.ContentLength = readCloser(body), int64(len(body))
	}
	return req, nil
}

func fetchBody(fr *api.FetchRequest) ([]byte, error) {
	switch fr.BodyEncoding {
	case "":
		return []byte(fr.Body), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(fr.Body)
		if err != nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "body is not valid base64: %v", err)
		}
		return b, nil
	}
	return nil, isoerr.New(isoerr.InvalidRequest, "bodyEncoding must be \"\" or \"base64\", got %q", fr.BodyEncoding)
}

type bytesReadCloser struct{ *bytes.Reader }

func (bytesReadCloser) Close() error { return nil }

func readCloser(b []byte) bytesReadCloser { return bytesReadCloser{bytes.NewReader(b)} }
