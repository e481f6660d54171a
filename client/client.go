// Package client is a Go client for the isobox HTTP API (`isobox serve`). Every method
// takes a context first; errors the API answers with are returned as *isoerr.Error with the
// server's code (the isoerr codes, or one of the Code* constants of this package).
//
//	c, _ := client.New("http://127.0.0.1:8787", os.Getenv("ISOBOX_API_KEY"))
//	_, err := c.PutWorker(ctx, "hello", code)
//	out, err := c.Fetch(ctx, "hello", client.FetchRequest{URL: "http://localhost/?name=ada"})
//	fmt.Println(*out.Body)
//
// Invocations (Fetch, Call, Run, Eval) return the loader.Outcome the server answered with
// even when the invocation failed, so that its logs and times are at hand; the error is
// then out.Error.
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

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// DefaultURL is where `isobox serve` listens unless told otherwise.
const DefaultURL = "http://127.0.0.1:8787"

// Client talks to one isobox server. It is safe for concurrent use; its With... methods
// return copies.
type Client struct {
	base *url.URL
	key  string
	hc   *http.Client
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
	return &Client{base: u, key: apiKey, hc: &http.Client{Transport: tr}}, nil
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

// URL returns the absolute URL of an API path such as "/v1/workers".
func (c *Client) URL(path string) string { return c.base.String() + path }

// PutWorker stores code under id, replacing any code stored there before.
//
// # Errors
//
// invalid_request for a bad id or malformed code JSON, invalid_worker_code when the code
// cannot be loaded as given (missing main module, bad module, not UTF-8), code_too_large,
// env_too_large, request_too_large. Nothing is stored when it fails.
func (c *Client) PutWorker(ctx context.Context, id string, code loader.WorkerCode) (*Worker, error) {
	var w Worker
	return &w, c.Do(ctx, http.MethodPut, workerPath(id), code, &w)
}

// GetWorker returns the stored worker id with its code, or a not_found error.
func (c *Client) GetWorker(ctx context.Context, id string) (*Worker, error) {
	var w Worker
	if err := c.Do(ctx, http.MethodGet, workerPath(id), nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// DeleteWorker removes the stored worker id, or returns a not_found error.
func (c *Client) DeleteWorker(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, workerPath(id), nil, nil)
}

// ListWorkers returns one page of stored workers (without their code), ordered by id.
func (c *Client) ListWorkers(ctx context.Context, opts ListOptions) (*WorkerList, error) {
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
	var l WorkerList
	if err := c.Do(ctx, http.MethodGet, p, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Fetch calls the fetch handler of stored worker id with req.
func (c *Client) Fetch(ctx context.Context, id string, req FetchRequest) (*loader.Outcome, error) {
	return c.invoke(ctx, workerPath(id)+"/fetch", req)
}

// Call invokes RPC method of stored worker id with args, which are sent as a JSON array.
//
// # Errors
//
// method_not_found when the worker has no such function, and the invocation codes.
func (c *Client) Call(ctx context.Context, id, method string, args ...any) (*loader.Outcome, error) {
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
func (c *Client) CallJSON(ctx context.Context, id, method string, args json.RawMessage) (*loader.Outcome, error) {
	return c.invoke(ctx, workerPath(id)+"/call/"+url.PathEscape(method), args)
}

// Run loads inline code once (Worker) or evaluates a snippet (Code) and returns the outcome.
func (c *Client) Run(ctx context.Context, req RunRequest) (*loader.Outcome, error) {
	return c.invoke(ctx, "/v1/run", req)
}

// Eval runs a snippet the way `isobox eval` does (an expression, statements, or an async
// arrow function) and returns its value as Outcome.Result.
func (c *Client) Eval(ctx context.Context, code string, limits *loader.Limits) (*loader.Outcome, error) {
	return c.Run(ctx, RunRequest{Code: code, Limits: limits})
}

// Forward sends a raw HTTP request to stored worker id's fetch handler through
// /v1/workers/{id}/http/{path} and returns the worker's response as it is. path is the
// path and query the worker sees ("/" or "/items?x=1"). The API key goes in the
// Authorization header, which isobox consumes: the worker never sees it. The caller
// closes the response body. A failed invocation answers with a non-2xx status and an
// error body; use ResponseError to read it.
func (c *Client) Forward(ctx context.Context, id, method, path string, header http.Header, body io.Reader) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(workerPath(id)+"/http"+path), body)
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
func (c *Client) Logs(ctx context.Context, id string, since uint64) ([]LogEntry, error) {
	p := workerPath(id) + "/logs"
	if since > 0 {
		p += "?since=" + strconv.FormatUint(since, 10)
	}
	var l LogList
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(workerPath(id)+"/logs?follow=1"), nil)
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
	return &LogStream{body: resp.Body, r: bufio.NewReader(resp.Body)}, nil
}

// LogStream is a followed log: Next returns lines as they arrive.
type LogStream struct {
	body io.ReadCloser
	r    *bufio.Reader
}

// Next returns the next log line. It returns io.EOF when the server ends the stream (it
// does so when it shuts down) and the context's error when it is canceled.
func (s *LogStream) Next() (LogEntry, error) {
	var event, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return LogEntry{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data != "" && (event == "" || event == "log") {
				var e LogEntry
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					return LogEntry{}, fmt.Errorf("client: bad log event %q: %w", data, err)
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
func (c *Client) SessionEval(ctx context.Context, id, code string, limits *loader.Limits) (*SessionOutcome, error) {
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

// Health returns nil when GET /healthz answers 200.
func (c *Client) Health(ctx context.Context) error {
	return c.Do(ctx, http.MethodGet, "/healthz", nil, nil)
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
// A non-2xx answer is returned as *isoerr.Error; transport failures as they are.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ResponseError(resp)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: %s %s: reading the answer: %w", method, path, err)
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
}

// invoke posts in and decodes the Outcome, which the server sends with failures too.
func (c *Client) invoke(ctx context.Context, path string, in any) (*loader.Outcome, error) {
	var out loader.Outcome
	decoded, err := c.invokeInto(ctx, path, in, &out, &out)
	if !decoded {
		return nil, err
	}
	return &out, err
}

// invokeInto posts in and decodes the answer into out, whose Outcome part is o. decoded
// says whether out holds the answer (the server sends an Outcome with failures too).
func (c *Client) invokeInto(ctx context.Context, path string, in, out any, o *loader.Outcome) (decoded bool, err error) {
	resp, err := c.send(ctx, http.MethodPost, path, in)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, fmt.Errorf("client: POST %s: reading the answer: %w", path, err)
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
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code != "" {
		return e.Error
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return isoerr.New(isoerr.Internal, "unexpected answer (%s): %.200q", resp.Status, b)
	}
	return isoerr.New(isoerr.Internal, "status %s: %.200q", resp.Status, b)
}

func workerPath(id string) string { return "/v1/workers/" + url.PathEscape(id) }
