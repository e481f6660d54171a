package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isobox/isobox/isoerr"
)

// How a WebAssembly worker's invocations meet HTTP and RPC: a command's request as CGI
// variables and its stdout as a response, a reactor's JSON arguments and results as wasm
// numbers, and the bounded buffers its output goes to.

// stderrTail is the last line or so of a program's stderr, for its error message.
func stderrTail(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	if len(s) > 500 {
		s = "…" + s[len(s)-500:]
	}
	return s
}

// logLines makes a program's stderr the invocation's logs, a line each.
func logLines(b []byte, truncated bool, limit int) []Log {
	if len(b) == 0 {
		return nil
	}
	now := time.Now()
	var logs []Log
	for _, line := range strings.Split(strings.TrimRight(strings.ToValidUTF8(string(b), "\uFFFD"), "\n"), "\n") {
		logs = append(logs, Log{Level: "error", Message: line, Time: now})
	}
	if truncated {
		logs = append(logs, Log{Level: "warn", Message: fmt.Sprintf("[isobox: stderr truncated: more than %d bytes in this invocation]", limit), Time: now})
	}
	return logs
}

// requestVariable reports the environment variables a command's request sets.
func requestVariable(name string) bool {
	switch name {
	case "REQUEST_METHOD", "REQUEST_URL", "PATH_INFO", "QUERY_STRING", "CONTENT_LENGTH", "CONTENT_TYPE":
		return true
	}
	return strings.HasPrefix(name, "HTTP_")
}

// requestConfig adds a request to a command's instance config as CGI names it:
// REQUEST_METHOD, REQUEST_URL, PATH_INFO, QUERY_STRING, CONTENT_LENGTH, CONTENT_TYPE and
// HTTP_<NAME> per header (upper case, '-' as '_', repeated headers joined with ", ").
func requestConfig(base wazero.ModuleConfig, req *Request) wazero.ModuleConfig {
	cfg := base
	set := func(k, v string) {
		if !strings.ContainsRune(v, 0) {
			cfg = cfg.WithEnv(k, v)
		}
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	set("REQUEST_METHOD", method)
	set("REQUEST_URL", req.URL)
	path, query, _ := strings.Cut(req.URL, "?")
	if i := strings.Index(path, "://"); i >= 0 {
		if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
			path = path[i+3+j:]
		} else {
			path = "/"
		}
	}
	set("PATH_INFO", path)
	set("QUERY_STRING", query)
	set("CONTENT_LENGTH", strconv.Itoa(len(req.Body)))
	joined := map[string]string{}
	var names []string
	for _, h := range req.Headers {
		k := "HTTP_" + strings.Map(func(r rune) rune {
			if r == '-' {
				return '_'
			}
			if r >= 'a' && r <= 'z' {
				return r - 'a' + 'A'
			}
			return r
		}, h[0])
		if strings.EqualFold(h[0], "content-type") {
			set("CONTENT_TYPE", h[1])
		}
		if v, ok := joined[k]; ok {
			joined[k] = v + ", " + h[1]
			continue
		}
		names = append(names, k)
		joined[k] = h[1]
	}
	for _, k := range names {
		set(k, joined[k])
	}
	return cfg
}

// parseCGI splits a command's stdout into the response. When stdout starts with a CGI
// header block (its first line "Status:" or "Content-Type:", any case; lines end in LF or
// CRLF; the block ends at an empty line), the block gives the status ("Status: 201
// Created": 201) and headers and the rest is the body. Otherwise all of stdout is the
// body of a 200 response.
func parseCGI(out []byte) (status int, headers [][2]string, body []byte) {
	status = 200
	first, _, _ := bytes.Cut(out, []byte("\n"))
	lower := strings.ToLower(string(first))
	if !strings.HasPrefix(lower, "status:") && !strings.HasPrefix(lower, "content-type:") {
		return status, nil, out
	}
	rest := out
	var hs [][2]string
	st := 0
	for {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		if !found {
			return 200, nil, out // no end to the header block: it was the body after all
		}
		rest = after
		l := strings.TrimRight(string(line), "\r")
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return 200, nil, out
		}
		v = strings.TrimSpace(v)
		if strings.EqualFold(k, "status") {
			code, _, _ := strings.Cut(v, " ")
			n, err := strconv.Atoi(code)
			if err != nil || n < 200 || n > 599 {
				return 200, nil, out
			}
			st = n
			continue
		}
		hs = append(hs, [2]string{strings.ToLower(k), v})
	}
	if st != 0 {
		status = st
	}
	return status, hs, rest
}

// wasmArgs converts an RPC call's JSON arguments to a function's parameters.
func wasmArgs(method string, def api.FunctionDefinition, args json.RawMessage) ([]uint64, error) {
	types := def.ParamTypes()
	if err := numericOnly(method, def); err != nil {
		return nil, err
	}
	var raw []any
	if len(args) > 0 {
		dec := json.NewDecoder(bytes.NewReader(args))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "the arguments of %s%s must be a JSON array of numbers: %v", method, signature(def), err)
		}
	}
	arr := make([]json.Number, len(raw))
	for i, v := range raw {
		n, ok := v.(json.Number)
		if !ok {
			b, _ := json.Marshal(v)
			return nil, isoerr.New(isoerr.InvalidRequest, "argument %d of %s%s must be a number, got %s", i+1, method, signature(def), b)
		}
		arr[i] = n
	}
	if len(arr) != len(types) {
		return nil, isoerr.New(isoerr.InvalidRequest, "%s%s takes %d arguments, got %d", method, signature(def), len(types), len(arr))
	}
	out := make([]uint64, len(types))
	for i, t := range types {
		bad := func() error {
			return isoerr.New(isoerr.InvalidRequest, "argument %d of %s%s must be an %s, got %s", i+1, method, signature(def), api.ValueTypeName(t), arr[i])
		}
		switch t {
		case api.ValueTypeI32, api.ValueTypeI64:
			n, err := strconv.ParseInt(string(arr[i]), 10, 64)
			if err != nil {
				u, uerr := strconv.ParseUint(string(arr[i]), 10, 64)
				if uerr != nil || t == api.ValueTypeI32 {
					return nil, bad()
				}
				out[i] = u
				continue
			}
			if t == api.ValueTypeI32 {
				if n < math.MinInt32 || n > math.MaxUint32 {
					return nil, bad()
				}
				out[i] = uint64(uint32(n))
			} else {
				out[i] = uint64(n)
			}
		case api.ValueTypeF32, api.ValueTypeF64:
			f, err := strconv.ParseFloat(string(arr[i]), 64)
			if err != nil {
				return nil, bad()
			}
			if t == api.ValueTypeF32 {
				out[i] = api.EncodeF32(float32(f))
			} else {
				out[i] = api.EncodeF64(f)
			}
		}
	}
	return out, nil
}

// numericOnly refuses a function whose parameters or results are not all numbers.
func numericOnly(method string, def api.FunctionDefinition) error {
	for _, t := range slices.Concat(def.ParamTypes(), def.ResultTypes()) {
		switch t {
		case api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF32, api.ValueTypeF64:
		default:
			return isoerr.New(isoerr.InvalidRequest, "%s%s cannot be called over RPC: only i32, i64, f32 and f64 parameters and results map to JSON numbers", method, signature(def))
		}
	}
	return nil
}

// wasmResults encodes a function's results: nothing as no value, one as a number, more
// as an array. i32 results are signed; i64 ones are exact integers (beyond 2^53 a
// JavaScript client loses precision).
func wasmResults(method string, def api.FunctionDefinition, results []uint64) (json.RawMessage, error) {
	vals := make([]string, len(results))
	for i, t := range def.ResultTypes() {
		var f float64
		switch t {
		case api.ValueTypeI32:
			vals[i] = strconv.FormatInt(int64(int32(results[i])), 10)
			continue
		case api.ValueTypeI64:
			vals[i] = strconv.FormatInt(int64(results[i]), 10)
			continue
		case api.ValueTypeF32:
			f = float64(api.DecodeF32(results[i]))
		default:
			f = api.DecodeF64(results[i])
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, isoerr.New(isoerr.WorkerException, "%s%s returned %v, which JSON cannot carry", method, signature(def), f)
		}
		vals[i] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
		return json.RawMessage(vals[0]), nil
	}
	return json.RawMessage("[" + strings.Join(vals, ",") + "]"), nil
}

// capBuffer collects a stream up to a limit; past it, writes fail (the guest sees EIO)
// and over is set.
type capBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		b.over = true
		return 0, errors.New("output limit exceeded")
	}
	return b.Buffer.Write(p)
}

// switchWriter is a reactor's stdout or stderr: the instance keeps one writer for its
// life, pointed at the running invocation's buffer (writes between invocations vanish).
type switchWriter struct{ w *capBuffer }

func (s *switchWriter) Write(p []byte) (int, error) {
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}
