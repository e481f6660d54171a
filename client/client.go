// Package client is a Go client for the isobox HTTP API (`isobox serve`): one method per
// route. Every method takes a context first; errors the API answers with are returned as
// *isoerr.Error with the server's code (the constants of package isoerr). Its types are
// those of package api, the wire contract; the client depends on nothing else of isobox,
// so a program that uses it does not compile the engine.
//
//	c, _ := client.New("http://127.0.0.1:8787", os.Getenv("ISOBOX_API_KEY"))
//	_, err := c.PutWorker(ctx, "hello", code)
//	out, err := c.Fetch(ctx, "hello", api.FetchRequest{URL: "http://localhost/?name=ada"})
//	fmt.Println(*out.Body)
//
// Invocations (Fetch, Call, Run, Eval, SessionEval) return the api.Outcome the server
// answered with even when the invocation failed, so that its logs and times are at hand;
// the error is then out.Error. Answers are read up to a limit (WithMaxResponseBytes);
// a larger one is a *ResponseTooLargeError.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// DefaultURL is where `isobox serve` listens unless told otherwise.
const DefaultURL = "http://127.0.0.1:8787"

// DefaultMaxResponseBytes bounds the answers a client reads (64 MiB): twice the largest
// request body `isobox serve` accepts by default, and over four times its default output
// limit in base64.
const DefaultMaxResponseBytes = 64 << 20

// Client talks to one isobox server. It is safe for concurrent use; its With... methods
// return copies.
type Client struct {
	base        *url.URL
	key         string
	tenant      string // the Isobox-Tenant header ("": none)
	hc          *http.Client
	maxResponse int64
}

// New returns a client for the server at baseURL (e.g. "http://127.0.0.1:8787")
// authenticating with apiKey.
//
// # Errors
//
// It fails when baseURL is not an absolute http or https URL.
func New(baseURL, apiKey string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q must be an absolute http(s) URL", baseURL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &Client{base: u, key: apiKey, hc: &http.Client{Transport: tr}, maxResponse: DefaultMaxResponseBytes}, nil
}

// FromEnv returns a client for $ISOBOX_URL (default DefaultURL) with $ISOBOX_API_KEY.
func FromEnv() (*Client, error) {
	u := os.Getenv("ISOBOX_URL")
	if u == "" {
		u = DefaultURL
	}
	return New(u, os.Getenv("ISOBOX_API_KEY"))
}

// WithHTTPClient returns a copy of c that sends its requests through hc.
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	cp := *c
	cp.hc = hc
	return &cp
}

// WithAPIKey returns a copy of c that authenticates with key.
func (c *Client) WithAPIKey(key string) *Client {
	cp := *c
	cp.key = key
	return &cp
}

// WithTenant returns a copy of c that acts for tenant name (the header Isobox-Tenant): what
// the operator's key does to manage a tenant's objects. A tenant's own key acts for its
// tenant alone and needs no header. "" sends none.
func (c *Client) WithTenant(name string) *Client {
	cp := *c
	cp.tenant = name
	return &cp
}

// WithMaxResponseBytes returns a copy of c that reads answers (and each followed log
// event) of at most n bytes; a larger one fails with *ResponseTooLargeError. n <= 0 means
// DefaultMaxResponseBytes.
func (c *Client) WithMaxResponseBytes(n int64) *Client {
	if n <= 0 {
		n = DefaultMaxResponseBytes
	}
	cp := *c
	cp.maxResponse = n
	return &cp
}

// URL returns the absolute URL of an API path such as "/v1/workers".
func (c *Client) URL(path string) string { return c.base.String() + path }

// PutWorker stores code under id, replacing any code stored there before. Code with Files
// (a project) is installed and bundled by the server first (see Bundle); the stored code's
// SourceHash is then the hash of the project.
//
// # Errors
//
// invalid_request for a bad id (api.CheckWorkerID, checked before sending) or malformed
// code JSON, invalid_worker_code when the code cannot be loaded as given (missing main
// module, bad module, not UTF-8, a globalOutbound that is not a valid egress policy),
// bundle_failed for Files that cannot be bundled, code_too_large, env_too_large,
// request_too_large. Nothing is stored when it fails.
func (c *Client) PutWorker(ctx context.Context, id string, code api.WorkerCode) (*api.Worker, error) {
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	var w api.Worker
	if err := c.Do(ctx, http.MethodPut, p, code, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Bundle installs and bundles a project (code.Files: package.json, sources,
// package-lock.json) on the server and returns its WorkerCode, without storing it. To
// store one, PutWorker the same code with Files: the server bundles it the same way.
//
// # Errors
//
// bundle_failed when the project cannot be installed or bundled: the message starts with
// file:line:col for a syntax error and names a missing package, version or file;
// invalid_request without files; invalid_worker_code when the bundle does not compile.
func (c *Client) Bundle(ctx context.Context, code api.WorkerCode) (*api.Bundle, error) {
	var b api.Bundle
	if err := c.Do(ctx, http.MethodPost, "/v1/bundle", code, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// GetWorker returns the stored worker id with its code, or a not_found error.
func (c *Client) GetWorker(ctx context.Context, id string) (*api.Worker, error) {
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	var w api.Worker
	if err := c.Do(ctx, http.MethodGet, p, nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// DeleteWorker removes the stored worker id, or returns a not_found error.
func (c *Client) DeleteWorker(ctx context.Context, id string) error {
	p, err := workerPath(id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, p, nil, nil)
}

// ListWorkers returns one page of stored workers (without their code), ordered by id.
func (c *Client) ListWorkers(ctx context.Context, opts ListOptions) (*api.WorkerList, error) {
	q := url.Values{}
	if opts.After != "" {
		q.Set("after", opts.After)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	p := "/v1/workers"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var l api.WorkerList
	if err := c.Do(ctx, http.MethodGet, p, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Fetch calls the fetch handler of stored worker id with req.
func (c *Client) Fetch(ctx context.Context, id string, req api.FetchRequest) (*api.Outcome, error) {
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	return c.invoke(ctx, p+"/fetch", req)
}

// Call invokes RPC method of stored worker id with args, which are sent as a JSON array.
//
// # Errors
//
// method_not_found when the worker has no such function, and the invocation codes.
func (c *Client) Call(ctx context.Context, id, method string, args ...any) (*api.Outcome, error) {
	if args == nil {
		args = []any{}
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("client: marshal args: %w", err)
	}
	return c.CallJSON(ctx, id, method, b)
}

// CallJSON is Call with the arguments already encoded as a JSON array.
func (c *Client) CallJSON(ctx context.Context, id, method string, args json.RawMessage) (*api.Outcome, error) {
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	return c.invoke(ctx, p+"/call/"+url.PathEscape(method), args)
}

// Run loads inline code once (Worker, with its limits and globalOutbound) or evaluates a
// snippet (Code, with Limits) and returns the outcome.
func (c *Client) Run(ctx context.Context, req api.RunRequest) (*api.Outcome, error) {
	return c.invoke(ctx, "/v1/run", req)
}

// Eval runs a snippet the way `isobox eval` does (an expression, statements, or an async
// arrow function) and returns its value as Outcome.Result.
func (c *Client) Eval(ctx context.Context, code string, limits *api.Limits) (*api.Outcome, error) {
	return c.Run(ctx, api.RunRequest{Code: code, Limits: limits})
}

// Forward sends a raw HTTP request to stored worker id's fetch handler through
// /v1/workers/{id}/http/{path} and returns the worker's response as it is. path is the
// path and query the worker sees ("/" or "/items?x=1"; "" calls /v1/workers/{id}/http
// itself, which the worker sees as "/"). The API key goes in the
// Authorization header, which isobox consumes: the worker never sees it. The caller
// closes the response body. A failed invocation answers with a non-2xx status and an
// error body; use ResponseError to read it.
func (c *Client) Forward(ctx context.Context, id, method, path string, header http.Header, body io.Reader) (*http.Response, error) {
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(p+"/http"+path), body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	c.auth(req)
	return c.hc.Do(req)
}

// Logs returns the recent console lines of stored worker id kept by the server (a bounded
// ring), with sequence numbers greater than since.
func (c *Client) Logs(ctx context.Context, id string, since uint64) ([]api.LogEntry, error) {
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	p += "/logs"
	if since > 0 {
		p += "?since=" + strconv.FormatUint(since, 10)
	}
	var l api.LogList
	if err := c.Do(ctx, http.MethodGet, p, nil, &l); err != nil {
		return nil, err
	}
	return l.Logs, nil
}

// FollowLogs streams the console lines of stored worker id as its invocations produce them
// (Server-Sent Events). Lines kept in the ring with a sequence number greater than since
// come first (since 0: only new lines). The subscription is in place when FollowLogs
// returns. Cancel ctx or call Close to stop.
func (c *Client) FollowLogs(ctx context.Context, id string, since uint64) (*LogStream, error) {
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(p+"/logs?follow=1"), nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if since > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(since, 10))
	}
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, ResponseError(resp)
	}
	return &LogStream{body: resp.Body, r: bufio.NewReader(resp.Body), max: c.maxResponse, path: p + "/logs"}, nil
}

// LogStream is a followed log: Next returns lines as they arrive.
type LogStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	max  int64  // bound on one event; 0: DefaultMaxResponseBytes
	path string // for errors
}

// Next returns the next log line. It returns io.EOF when the server ends the stream (it
// does so when it shuts down), the context's error when it is canceled, and a
// *ResponseTooLargeError for an event over the client's answer limit.
func (s *LogStream) Next() (api.LogEntry, error) {
	var event, data string
	max := s.max
	if max <= 0 {
		max = DefaultMaxResponseBytes
	}
	for {
		line, err := readLine(s.r, max-int64(len(data)))
		if err == errLineTooLong {
			return api.LogEntry{}, &ResponseTooLargeError{Method: http.MethodGet, Path: s.path, Limit: max}
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return api.LogEntry{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data != "" && (event == "" || event == "log") {
				var e api.LogEntry
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					return api.LogEntry{}, fmt.Errorf("client: bad log event %.200q: %w", data, err)
				}
				return e, nil
			}
			event, data = "", ""
		case strings.HasPrefix(line, ":"): // a comment (keep-alive)
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(line[len("data:"):], " ")
		}
	}
}

// Close ends the stream.
func (s *LogStream) Close() error { return s.body.Close() }

var errLineTooLong = errors.New("line too long")

// readLine reads up to and including the next '\n', failing with errLineTooLong once more
// than max bytes came without one.
func readLine(r *bufio.Reader, max int64) (string, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if int64(len(buf)+len(chunk)) > max {
			return "", errLineTooLong
		}
		buf = append(buf, chunk...)
		if err != bufio.ErrBufferFull {
			return string(buf), err
		}
	}
}

// EgressAudit returns the recent outbound decisions of stored worker id's fetch() calls,
// newest first: at most limit of them (0: the server's default, 100; at most 10,000).
//
// # Errors
//
// invalid_request for a bad id or limit.
func (c *Client) EgressAudit(ctx context.Context, id string, limit int) ([]api.EgressEntry, error) {
	p, err := workerPath(id)
	if err != nil {
		return nil, err
	}
	p += "/egress"
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var a api.EgressAudit
	if err := c.Do(ctx, http.MethodGet, p, nil, &a); err != nil {
		return nil, err
	}
	return a.Entries, nil
}

// PutSecret stores value under name, replacing any value stored there. Secrets are
// write-only: workers never see them, and the egress gateway injects them into outbound
// requests where a policy says {{secret:NAME}}.
//
// # Errors
//
// invalid_request for a bad name (api.CheckSecretName, checked before sending) or an empty
// value.
func (c *Client) PutSecret(ctx context.Context, name, value string) error {
	if err := api.CheckSecretName(name); err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPut, "/v1/secrets/"+name, api.SecretValue{Value: value}, nil)
}

// DeleteSecret removes the secret name, or returns a not_found error.
func (c *Client) DeleteSecret(ctx context.Context, name string) error {
	if err := api.CheckSecretName(name); err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, "/v1/secrets/"+name, nil, nil)
}

// ListSecrets returns the stored secrets' names and times, never their values.
func (c *Client) ListSecrets(ctx context.Context) ([]api.Secret, error) {
	var l api.SecretList
	if err := c.Do(ctx, http.MethodGet, "/v1/secrets", nil, &l); err != nil {
		return nil, err
	}
	return l.Secrets, nil
}

// Execute runs model-written code against the tools of the server's Code Mode connectors
// (POST /v1/codemode/execute). Like an invocation, it returns the run even when it failed
// (the error is then res.Error), with its logs and tool calls.
//
// # Errors
//
// invalid_request for unknown providers or bad limits, invalid_worker_code for a syntax
// error, worker_exception, the limit codes; see api.ExecuteResult.
func (c *Client) Execute(ctx context.Context, req api.ExecuteRequest) (*api.ExecuteResult, error) {
	const path = "/v1/codemode/execute"
	resp, err := c.send(ctx, http.MethodPost, path, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := c.read(resp, http.MethodPost, path)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Logs json.RawMessage `json:"logs"`
	}
	if json.Unmarshal(b, &probe) != nil || probe.Logs == nil {
		return nil, errorFrom(resp, b)
	}
	var res api.ExecuteResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("client: POST %s: undecodable result: %w", path, err)
	}
	if res.Error != nil {
		return &res, res.Error
	}
	return &res, nil
}

// MCP sends one JSON-RPC message to the server's MCP endpoint (POST /mcp, streamable
// HTTP without sessions) and returns the answer, or nil for a notification. For a full
// MCP client, point an MCP SDK's streamable HTTP transport at c.URL("/mcp") with the
// API key as a bearer token.
//
//	res, err := c.MCP(ctx, json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
func (c *Client) MCP(ctx context.Context, message json.RawMessage) (json.RawMessage, error) {
	const path = "/mcp"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(path), bytes.NewReader(message))
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, ResponseError(resp)
	}
	b, err := c.read(resp, http.MethodPost, path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return nil, err
	}
	return b, nil
}

// CreateSession starts a session: a sandbox whose globals persist from one eval to the
// next, with the limits and egress policy of opts (opts.Name "" for a generated name). The
// server keeps the session's state on disk after every eval.
func (c *Client) CreateSession(ctx context.Context, opts SessionOptions) (*SessionInfo, error) {
	var s SessionInfo
	return &s, c.Do(ctx, http.MethodPost, "/v1/sessions", opts, &s)
}

// ListSessions lists the sessions, live and hibernated.
func (c *Client) ListSessions(ctx context.Context) ([]SessionInfo, error) {
	var out struct {
		Sessions []SessionInfo `json:"sessions"`
	}
	return out.Sessions, c.Do(ctx, http.MethodGet, "/v1/sessions", nil, &out)
}

// SessionEval runs a snippet in session id. limits (nil for none) can lower the session's
// limits, not raise them. When a limit stopped the call, the returned outcome has
// RolledBack set: the session is as it was before the call.
func (c *Client) SessionEval(ctx context.Context, id, code string, limits *api.Limits) (*SessionOutcome, error) {
	var out SessionOutcome
	decoded, err := c.invokeInto(ctx, "/v1/sessions/"+url.PathEscape(id)+"/eval", SessionEvalRequest{Code: code, Limits: limits}, &out, &out.Outcome)
	if !decoded {
		return nil, err
	}
	return &out, err
}

// ForkSession copies session id, as it is now, into a new session named name ("" for a
// generated one), with the same options.
func (c *Client) ForkSession(ctx context.Context, id, name string) (*SessionInfo, error) {
	var s SessionInfo
	return &s, c.Do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/fork", map[string]string{"name": name}, &s)
}

// DeleteSession drops session id, live and hibernated.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(id), nil, nil)
}

// Health returns the answer of GET /healthz: the server is up and not draining (an error
// with code shutting_down when it is), with its warm-cache counts.
func (c *Client) Health(ctx context.Context) (*api.Health, error) {
	var h api.Health
	if err := c.Do(ctx, http.MethodGet, "/healthz", nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Metrics returns the Prometheus exposition text of GET /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var b []byte
	err := c.Do(ctx, http.MethodGet, "/metrics", nil, &b)
	return string(b), err
}

// OpenAPI returns the server's OpenAPI 3.1 document.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var b json.RawMessage
	err := c.Do(ctx, http.MethodGet, "/v1/openapi.json", nil, &b)
	return b, err
}

// Do sends one API request and decodes a 2xx JSON answer into out (which may be nil, or a
// *[]byte for the raw body). in is nil (no body), []byte or json.RawMessage (sent as is),
// an io.Reader, or any other value (sent as JSON). It is the escape hatch for routes and
// inputs the typed methods do not cover.
//
// # Errors
//
// A non-2xx answer is returned as *isoerr.Error, an answer over the client's limit as
// *ResponseTooLargeError; transport failures as they are.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ResponseError(resp)
	}
	b, err := c.read(resp, method, path)
	if err != nil {
		return err
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = b
		return nil
	case *json.RawMessage:
		*o = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: %s %s: undecodable answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(v)
	case json.RawMessage:
		body = bytes.NewReader(v)
	case io.Reader:
		body = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("client: marshal request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(path), body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.auth(req)
	return c.hc.Do(req)
}

func (c *Client) auth(req *http.Request) {
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.tenant != "" {
		req.Header.Set("Isobox-Tenant", c.tenant)
	}
}

// read reads an answer's body, up to the client's limit.
func (c *Client) read(resp *http.Response, method, path string) ([]byte, error) {
	max := c.maxResponse
	if max <= 0 {
		max = DefaultMaxResponseBytes
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: reading the answer: %w", method, path, err)
	}
	if int64(len(b)) > max {
		return nil, &ResponseTooLargeError{Method: method, Path: path, Limit: max}
	}
	return b, nil
}

// ResponseTooLargeError is an answer larger than the client's limit
// (WithMaxResponseBytes); the rest of it was not read.
type ResponseTooLargeError struct {
	Method, Path string
	Limit        int64
}

func (e *ResponseTooLargeError) Error() string {
	return fmt.Sprintf("client: %s %s: the answer is larger than the client's limit of %d bytes (see WithMaxResponseBytes)", e.Method, e.Path, e.Limit)
}

// invoke posts in and decodes the Outcome, which the server sends with failures too.
func (c *Client) invoke(ctx context.Context, path string, in any) (*api.Outcome, error) {
	var out api.Outcome
	decoded, err := c.invokeInto(ctx, path, in, &out, &out)
	if !decoded {
		return nil, err
	}
	return &out, err
}

// invokeInto posts in and decodes the answer into out, whose Outcome part is o. decoded
// says whether out holds the answer (the server sends an Outcome with failures too).
func (c *Client) invokeInto(ctx context.Context, path string, in, out any, o *api.Outcome) (decoded bool, err error) {
	resp, err := c.send(ctx, http.MethodPost, path, in)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, err := c.read(resp, http.MethodPost, path)
	if err != nil {
		return false, err
	}
	var probe struct {
		OK *bool `json:"ok"`
	}
	if json.Unmarshal(b, &probe) != nil || probe.OK == nil {
		return false, errorFrom(resp, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return false, fmt.Errorf("client: POST %s: undecodable outcome: %w", path, err)
	}
	if o.Error != nil {
		return true, o.Error
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return true, isoerr.New(isoerr.Internal, "status %s with a successful outcome", resp.Status)
	}
	return true, nil
}

// ResponseError reads a non-2xx answer's {"error":{...}} body as an *isoerr.Error. A body
// that is not one becomes an internal_error naming the status.
func ResponseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return errorFrom(resp, b)
}

func errorFrom(resp *http.Response, b []byte) error {
	var e api.ErrorBody
	if json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code != "" {
		return e.Error
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return isoerr.New(isoerr.Internal, "unexpected answer (%s): %.200q", resp.Status, b)
	}
	return isoerr.New(isoerr.Internal, "status %s: %.200q", resp.Status, b)
}

// workerPath is the path of stored worker id, which must follow the rule of worker ids
// (api.CheckWorkerID: such an id needs no escaping).
func workerPath(id string) (string, error) {
	if err := api.CheckWorkerID(id); err != nil {
		return "", err
	}
	return "/v1/workers/" + id, nil
}
