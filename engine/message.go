package engine

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/isoerr"
)

// The "fetch" and "call" messages start every invocation, so they are written by hand:
// encoding/json's reflection over a map of maps cost ~3 µs of each (its sorted keys and
// HTML escaping buy nothing here). The runtime reads JSON messages with JSON.parse; every
// field is present (null when it has no value), as the dispatcher expects.
//
// Most often they go as a record instead: the fields as they are, separated by U+001F
// (recordSep), which the runtime splits with one String.prototype.split. JSON.parse made
// a property, and for a string a copy, of each field: ~7 µs of a fetch in the sandbox,
// against ~2 for the split. A message whose strings cannot go as they are (recordField)
// is sent as JSON; the runtime tells the two apart by the JSON's leading "{".

// recordSep separates the fields of a record message (90_worker.js, dispatchRecord).
const recordSep = '\x1f'

// recordField reports whether s can be a field of a record message as it is: UTF-8 (as
// the JSON form, which would turn bad bytes into U+FFFD), without NUL (the message
// crosses as a C string) or recordSep. Header names and values must not hold a newline
// either, since they are joined by newlines (appendHeaders); header reports that.
func recordField(s string, header bool) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == recordSep || (header && c == '\n') {
			return false
		}
	}
	return utf8.ValidString(s)
}

// fetchRecord is the "fetch" message as a record: "fetch", the entrypoint, props (JSON,
// empty for none), method, URL, the headers' names and values joined by newlines, the
// body ("" for none, else "b" and its base64) and "1" when it is streamed; ok is false
// when a string cannot be a field.
func fetchRecord(entrypoint string, props json.RawMessage, req *Request) (b []byte, ok bool) {
	if !recordField(entrypoint, false) || !recordField(req.Method, false) || !recordField(req.URL, false) {
		return nil, false
	}
	for _, h := range req.Headers {
		if !recordField(h[0], true) || !recordField(h[1], true) {
			return nil, false
		}
	}
	b = make([]byte, 0, 32+len(entrypoint)+len(props)+len(req.Method)+len(req.URL)+base64.StdEncoding.EncodedLen(len(req.Body))+64*len(req.Headers))
	b = append(b, "fetch"...)
	b = append(append(b, recordSep), entrypoint...)
	b = append(append(b, recordSep), props...) // valid JSON holds no NUL or recordSep
	b = append(append(b, recordSep), req.Method...)
	b = append(append(b, recordSep), req.URL...)
	b = append(b, recordSep)
	for i, h := range req.Headers {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(append(append(b, h[0]...), '\n'), h[1]...)
	}
	b = append(b, recordSep)
	if req.Body != nil {
		b = base64.StdEncoding.AppendEncode(append(b, 'b'), req.Body)
	}
	b = append(b, recordSep)
	if req.Sink != nil {
		b = append(b, '1')
	}
	return b, true
}

// fetchMessage is the "fetch" message of req for entrypoint: a record when it can be one.
func fetchMessage(entrypoint string, props json.RawMessage, req *Request) ([]byte, error) {
	if len(props) > 0 && !json.Valid(props) {
		return nil, isoerr.New(isoerr.InvalidRequest, "cannot encode message: props are not JSON")
	}
	if b, ok := fetchRecord(entrypoint, props, req); ok {
		return b, nil
	}
	return fetchJSON(entrypoint, props, req), nil
}

// fetchJSON is the "fetch" message as JSON.
func fetchJSON(entrypoint string, props json.RawMessage, req *Request) []byte {
	b := make([]byte, 0, 128+len(req.URL)+base64.StdEncoding.EncodedLen(len(req.Body))+64*len(req.Headers))
	b = append(b, `{"type":"fetch","entrypoint":`...)
	b = appendJSONString(b, entrypoint)
	b = append(b, `,"props":`...)
	b = append(b, rawOrNull(props)...)
	b = append(b, `,"request":{"method":`...)
	b = appendJSONString(b, req.Method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, req.URL)
	b = appendHeaders(b, req.Headers)
	b = append(b, `,"body":`...)
	if req.Body == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, req.Body)
		b = append(b, '"')
	}
	if req.Sink != nil {
		b = append(b, `,"stream":true`...) // the body goes to the sink as it is produced
	}
	return append(b, "}}"...)
}

// appendHeaders appends the request's "headers" field. Most often it is one string, the
// names and values joined by newlines (JSON.parse makes one string of it, where an array of
// pairs cost an array per header: ~0.6 µs each in the guest, and the runtime splits it only
// when the handler reads a header); a name or value that holds a newline itself (none that
// came over HTTP can) sends the array of [name, value] pairs instead.
func appendHeaders(b []byte, headers [][2]string) []byte {
	joined := true
	for _, h := range headers {
		if strings.IndexByte(h[0], '\n') >= 0 || strings.IndexByte(h[1], '\n') >= 0 {
			joined = false
			break
		}
	}
	if joined {
		b = append(b, `,"headers":"`...)
		for i, h := range headers {
			if i > 0 {
				b = append(b, `\n`...)
			}
			b = appendJSONChars(b, h[0])
			b = append(b, `\n`...)
			b = appendJSONChars(b, h[1])
		}
		return append(b, '"')
	}
	b = append(b, `,"headers":[`...)
	for i, h := range headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendJSONString(b, h[0])
		b = append(b, ',')
		b = appendJSONString(b, h[1])
		b = append(b, ']')
	}
	return append(b, ']')
}

// pythonFetchMessage is the "fetch" message for a Python sandbox, whose entry reads the
// message's type from the map (pyworker.go).
func pythonFetchMessage(entrypoint string, props json.RawMessage, req *Request) map[string]any {
	var body *string
	if req.Body != nil {
		s := base64.StdEncoding.EncodeToString(req.Body)
		body = &s
	}
	headers := req.Headers
	if headers == nil {
		headers = [][2]string{}
	}
	return map[string]any{
		"type": "fetch", "entrypoint": entrypoint, "props": rawOrNull(props),
		"request": map[string]any{"method": req.Method, "url": req.URL, "headers": headers, "body": body},
	}
}

// callMessage is the "call" message of an RPC; args is a JSON array (checked by Call). It
// is a record when it can be one: "call", the entrypoint, the method, args and props
// (JSON, empty for none).
func callMessage(entrypoint, method string, args, props json.RawMessage) ([]byte, error) {
	if len(props) > 0 && !json.Valid(props) {
		return nil, isoerr.New(isoerr.InvalidRequest, "cannot encode message: props are not JSON")
	}
	if recordField(entrypoint, false) && recordField(method, false) {
		b := make([]byte, 0, 8+len(entrypoint)+len(method)+len(args)+len(props))
		b = append(b, "call"...)
		b = append(append(b, recordSep), entrypoint...)
		b = append(append(b, recordSep), method...)
		b = append(append(b, recordSep), args...)
		b = append(append(b, recordSep), props...)
		return b, nil
	}
	b := make([]byte, 0, 96+len(entrypoint)+len(method)+len(args)+len(props))
	b = append(b, `{"type":"call","entrypoint":`...)
	b = appendJSONString(b, entrypoint)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, method)
	b = append(b, `,"args":`...)
	b = append(b, args...)
	b = append(b, `,"props":`...)
	b = append(b, rawOrNull(props)...)
	return append(b, '}'), nil
}

// evalMessage is the "eval" message of a snippet: a record of "eval" and the code when it
// can be one, which saves the guest a JSON.parse of the whole snippet (~80 µs for 7 KB of
// Code Mode's code in the sandbox), else JSON.
func evalMessage(code string) []byte {
	if recordField(code, false) {
		return append(append([]byte("eval"), recordSep), code...)
	}
	b := append(make([]byte, 0, len(code)+32), `{"type":"eval","code":`...)
	return append(appendJSONString(b, code), '}')
}

// appendJSONString appends s as a JSON string. Control characters are escaped (so the
// message never holds a NUL: it crosses as a C string), and bytes that are not UTF-8
// become U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	return append(appendJSONChars(append(b, '"'), s), '"')
}

// appendJSONChars appends s as the characters of a JSON string, without its quotes.
func appendJSONChars(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
