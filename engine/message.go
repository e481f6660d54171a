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
// HTML escaping buy nothing here). The runtime reads them with JSON.parse; every field is
// present (null when it has no value), as the dispatcher expects.

// fetchMessage is the "fetch" message of req for entrypoint.
func fetchMessage(entrypoint string, props json.RawMessage, req *Request) ([]byte, error) {
	if len(props) > 0 && !json.Valid(props) {
		return nil, isoerr.New(isoerr.InvalidRequest, "cannot encode message: props are not JSON")
	}
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
	return append(b, "}}"...), nil
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

// callMessage is the "call" message of an RPC; args is a JSON array (checked by Call).
func callMessage(entrypoint, method string, args, props json.RawMessage) ([]byte, error) {
	if len(props) > 0 && !json.Valid(props) {
		return nil, isoerr.New(isoerr.InvalidRequest, "cannot encode message: props are not JSON")
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
