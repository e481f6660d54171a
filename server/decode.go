package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// workerID is the {id} of a worker route, checked by the one rule of worker ids
// (api.CheckWorkerID), as the store and the loader know it: scoped to the request's tenant
// (tenant.Scoped).
func workerID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := api.CheckWorkerID(id); err != nil {
		return "", err
	}
	return principalOf(r).Scoped(id), nil
}

// readBody reads the whole request body, bounded by Config.MaxBodyBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, isoerr.New(isoerr.RequestTooLarge, "the request body is larger than the server's limit of %d bytes", s.cfg.MaxBodyBytes)
		}
		return nil, isoerr.New(isoerr.InvalidRequest, "reading the request body: %v", err)
	}
	return b, nil
}

// decodeJSON reads the body into v strictly: UTF-8 only (RFC 8259; Go's decoder would
// silently turn bad bytes and lone surrogate escapes into U+FFFD), no unknown fields, no
// key twice in one object (Go's decoder would keep the last one silently), one value. An empty body leaves v as it is when emptyOK. contentCode is the code of errors
// in the content itself (a module that does not decode), as opposed to malformed JSON.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any, emptyOK bool, contentCode isoerr.Code) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(b, v, emptyOK, contentCode)
}

func decodeStrict(b []byte, v any, emptyOK bool, contentCode isoerr.Code) error {
	if len(bytes.TrimSpace(b)) == 0 {
		if emptyOK {
			return nil
		}
		return isoerr.New(isoerr.InvalidRequest, "the request body is empty: send a JSON value")
	}
	if err := checkUTF8JSON(b); err != nil {
		return isoerr.New(contentCode, "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(b, err, contentCode)
	}
	// Not dec.More(): it reports false before a stray '}' or ']', which would pass.
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return isoerr.New(isoerr.InvalidRequest, "malformed JSON: unexpected data after the first value at byte %d", off)
	}
	if err := checkDuplicateKeys(b); err != nil {
		return err
	}
	if t := reflect.TypeOf(v); t.Elem().Kind() == reflect.Struct {
		var generic any
		if err := json.Unmarshal(b, &generic); err == nil {
			return checkFieldNames(generic, t, "")
		}
	}
	return nil
}

// checkDuplicateKeys rejects a JSON text (already known to decode) in which an object
// repeats a key, at any depth. Keys are compared after unescaping, so "a" and "\u0061" are
// the same key. One pass over the tokens with one set of keys per open object: linear in
// the size of the body.
func checkDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers stay text: no float parsing
	// frame is one open object or array: its path, the keys seen (objects) or the next
	// index (arrays), and whether the next string token of an object is a key.
	type frame struct {
		path   string
		keys   map[string]struct{}
		index  int
		object bool
		atKey  bool
	}
	var stack []frame
	// child is the path of the value that the next token starts.
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := &stack[len(stack)-1]
		if f.object {
			return f.path // the key was appended by the key token
		}
		p := f.path + "[" + strconv.Itoa(f.index) + "]"
		f.index++
		return p
	}
	var pending string // the path of the value after the last key
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // malformed: the decoder has said where
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.object && f.atKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					continue
				}
				k, _ := tok.(string)
				if _, dup := f.keys[k]; dup {
					return isoerr.New(isoerr.InvalidRequest, "duplicate key %q%s: a JSON object must not repeat a key (which one would win is not defined)", k, at(f.path))
				}
				f.keys[k] = struct{}{}
				f.atKey = false
				pending = join(f.path, k)
				continue
			}
		}
		path := pending
		if len(stack) == 0 || !stack[len(stack)-1].object {
			path = child()
		} else {
			stack[len(stack)-1].atKey = true // after this value, a key or '}'
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{path: path, keys: map[string]struct{}{}, object: true, atKey: true})
			case '[':
				stack = append(stack, frame{path: path})
			case ']':
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// jsonError turns a decoding error into a typed one that says where and what.
func jsonError(b []byte, err error, contentCode isoerr.Code) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return isoerr.New(isoerr.InvalidRequest, "malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return isoerr.New(isoerr.InvalidRequest, "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return isoerr.New(isoerr.InvalidRequest, "%s: want a JSON %s, got %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return isoerr.New(isoerr.InvalidRequest, "unknown field %s (fields are case-sensitive; see GET /v1/openapi.json)", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	// An error from a value's own UnmarshalJSON (a module that is neither a string nor an
	// object with one known type, bad base64): the JSON is fine, its content is not.
	if e := isoerr.CodeOf(err); e != "" {
		return err
	}
	return isoerr.New(contentCode, "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "number"
	case "ptr":
		return "object"
	}
	return k
}

// checkUTF8JSON rejects a body that is not UTF-8 or holds a \u escape of a lone UTF-16
// surrogate. Backslashes only appear inside strings in valid JSON, so a byte scan suffices
// (anything else is left to the decoder).
func checkUTF8JSON(b []byte) error {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("the body is not valid UTF-8 (byte %d): JSON text must be UTF-8; send bytes as a data module or with bodyEncoding base64", i)
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return nil // malformed; the decoder says where
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			lo, ok := hex4(b, i+8)
			if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' || !ok || lo < 0xDC00 || lo >= 0xE000 {
				return fmt.Errorf("the body holds a lone UTF-16 surrogate \\u%04x at byte %d: strings must be valid Unicode; send bytes as a data module or with bodyEncoding base64", r, i)
			}
			i += 11
		case r >= 0xDC00 && r < 0xE000:
			return fmt.Errorf("the body holds a lone UTF-16 surrogate \\u%04x at byte %d: strings must be valid Unicode; send bytes as a data module or with bodyEncoding base64", r, i)
		default:
			i += 5
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
