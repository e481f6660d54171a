package workspace

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/isobox/isobox/internal/jsonv"
	"github.com/isobox/isobox/isoerr"
)

// maxJSONDepth bounds the nesting of a JSON file the JSON operations read.
const maxJSONDepth = 1000

// JSONUpdate is one change UpdateJSON makes at a path of a JSON file.
type JSONUpdate struct {
	// Op is "set" (put Value at Path, creating missing object keys on the way; index
	// len(array) appends), "merge" (merge Value into the object at Path as a JSON Merge
	// Patch, RFC 7386: null deletes a key) or "delete" (remove the key or element at Path).
	Op string `json:"op"`
	// Path is where: a JSONPath-like path (QueryJSON).
	Path string `json:"path"`
	// Value is the JSON value of set and merge.
	Value json.RawMessage `json:"value,omitempty"`
}

// QueryJSON returns the value at path in the JSON file p, and whether it is there.
//
// A path is names and indexes: `scripts.build`, `items[0].id`, `["key.with.dots"]`,
// `list[-1]` (the last element); "" (or "$") is the whole document. It is deliberately
// not jq: it costs one walk down the document, so no query can make the host work hard;
// jq belongs to the shell (exec), which runs under a CPU limit.
//
//	v, found, err := ws.QueryJSON(ctx, "proj", "package.json", "dependencies.react")
//
// # Errors
//
// invalid_request for a bad path, or when p is not JSON; not_found when p is missing;
// file_too_large past MaxReadAtOnce.
func (s *SQLite) QueryJSON(ctx context.Context, ws, p, path string) (json.RawMessage, bool, error) {
	segs, err := parseJSONPath(path)
	if err != nil {
		return nil, false, err
	}
	cp, err := check(ws, p)
	if err != nil {
		return nil, false, err
	}
	rc, _, err := s.Read(ctx, ws, cp)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	data, err := readAll(rc, MaxReadAtOnce)
	if err != nil {
		return nil, false, err
	}
	doc, err := decodeJSON(cp, data)
	if err != nil {
		return nil, false, err
	}
	v, ok := lookup(doc, segs)
	if !ok {
		return nil, false, nil
	}
	out, err := jsonv.Marshal(v)
	return out, true, err
}

// UpdateJSON applies u to the JSON file p and writes it back (indented by two spaces, keys
// in their order) atomically: the write lands only over the version the change was made
// to (another writer in between makes it start over), and with opts.IfMatch it fails
// instead of overwriting a change made since that etag. A missing file is taken as null
// (set and merge create it).
//
//	info, err := ws.UpdateJSON(ctx, "proj", "package.json",
//		workspace.JSONUpdate{Op: "set", Path: "scripts.test", Value: json.RawMessage(`"vitest"`)},
//		workspace.WriteOptions{IfMatch: etag})
//
// # Errors
//
// invalid_request for a bad path, op or value, a file that is not JSON, or a path through
// something that is not an object or array; not_found when delete finds nothing;
// precondition_failed, quota_exceeded, file_too_large as Write; conflict when p is not a
// file or other writers changed it three times while the update was made.
func (s *SQLite) UpdateJSON(ctx context.Context, ws, p string, u JSONUpdate, opts WriteOptions) (Info, error) {
	segs, err := parseJSONPath(u.Path)
	if err != nil {
		return Info{}, err
	}
	var value any
	switch u.Op {
	case "set", "merge":
		if len(u.Value) == 0 {
			return Info{}, isoerr.New(isoerr.InvalidRequest, "updateJson %s: value is missing", u.Op)
		}
		if value, err = decodeJSON("value", u.Value); err != nil {
			return Info{}, err
		}
	case "delete":
		if len(segs) == 0 {
			return Info{}, isoerr.New(isoerr.InvalidRequest, "updateJson delete: the path must name a key or an element")
		}
	default:
		return Info{}, isoerr.New(isoerr.InvalidRequest, "updateJson: op must be set, merge or delete, not %q", u.Op)
	}
	cp, err := check(ws, p)
	if err != nil {
		return Info{}, err
	}
	// The document is read and changed outside the write lock (it may be 32 MiB of JSON);
	// the write then checks that the file is still the version read, and starts again
	// when another writer came in between.
	for range 3 {
		out, rp, version, err := s.jsonUpdated(ctx, ws, cp, segs, u.Op, value, opts)
		if err != nil {
			return Info{}, err
		}
		var info Info
		raced := false
		err = s.write(ctx, func(tx *sql.Tx) error {
			rp2, n, err := resolve(ctx, tx, ws, cp, true)
			if err != nil {
				return err
			}
			if rp2 != rp || (n == nil) != (version == 0) || (n != nil && n.version != version) {
				raced = true
				return nil
			}
			info, err = s.putTx(ctx, tx, ws, rp, out, WriteOptions{})
			return err
		})
		if err != nil || !raced {
			return info, err
		}
	}
	return Info{}, isoerr.New(isoerr.Conflict, "updateJson %s: other writers kept changing the file; try again", cp)
}

// jsonUpdated reads the JSON file at clean path p in a read transaction, checks opts,
// applies op and returns the new content, the resolved path and the version it read (0:
// no file).
func (s *SQLite) jsonUpdated(ctx context.Context, ws, p string, segs []seg, op string, value any, opts WriteOptions) ([]byte, string, int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", 0, fmt.Errorf("workspace: updateJson: %w", err)
	}
	defer tx.Rollback()
	rp, n, err := resolve(ctx, tx, ws, p, true)
	if err != nil {
		return nil, "", 0, err
	}
	if err := precondition(rp, n, opts); err != nil {
		return nil, "", 0, err
	}
	var doc any
	var version int64
	if n != nil {
		if n.kind != string(File) {
			return nil, "", 0, isoerr.New(isoerr.Conflict, "%s: is a %s", rp, n.kind)
		}
		data, err := contentBytes(ctx, tx, n, MaxReadAtOnce)
		if err != nil {
			return nil, "", 0, err
		}
		if doc, err = decodeJSON(rp, data); err != nil {
			return nil, "", 0, err
		}
		version = n.version
	}
	if doc, err = applyJSON(doc, segs, op, value); err != nil {
		return nil, "", 0, fmt.Errorf("updateJson %s: %w", op, err)
	}
	compact, err := jsonv.Marshal(doc)
	if err != nil {
		return nil, "", 0, fmt.Errorf("workspace: updateJson: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, "", 0, fmt.Errorf("workspace: updateJson: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), rp, version, nil
}

// A path segment: a key (of an object) or an index (of an array).
type seg struct {
	key   string
	index int
	isKey bool
}

func (s seg) String() string {
	if s.isKey {
		return strconv.Quote(s.key)
	}
	return "[" + strconv.Itoa(s.index) + "]"
}

// parseJSONPath parses `a.b[0]["c.d"]` ("" and "$" are the root; a leading "$" or "$."
// is allowed, as JSONPath writes it).
func parseJSONPath(p string) ([]seg, error) {
	bad := func(why string) ([]seg, error) {
		return nil, isoerr.New(isoerr.InvalidRequest, "bad JSON path %q: %s", p, why)
	}
	if len(p) > MaxPathLength {
		return bad("too long")
	}
	rest := strings.TrimPrefix(p, "$")
	var out []seg
	first := true
	for rest != "" {
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if strings.HasPrefix(rest, `["`) {
				// A quoted key: find the closing quote that ends a JSON string.
				var key string
				dec := json.NewDecoder(strings.NewReader(rest[1:]))
				if err := dec.Decode(&key); err != nil {
					return bad("a quoted key is not a JSON string")
				}
				after := rest[1+int(dec.InputOffset()):]
				if !strings.HasPrefix(after, "]") {
					return bad(`a quoted key must be followed by "]"`)
				}
				out = append(out, seg{key: key, isKey: true})
				rest = after[1:]
				break
			}
			if end < 0 {
				return bad(`"[" without "]"`)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil {
				return bad("an index must be a whole number")
			}
			out = append(out, seg{index: i})
			rest = rest[end+1:]
		case rest[0] == '.' || first:
			if rest[0] == '.' {
				rest = rest[1:]
			}
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return bad("an empty name")
			}
			out = append(out, seg{key: rest[:end], isKey: true})
			rest = rest[end:]
		default:
			return bad(`expected "." or "["`)
		}
		first = false
	}
	if len(out) > maxJSONDepth {
		return bad("too deep")
	}
	return out, nil
}

// decodeJSON decodes one JSON value: objects as *jsonv.Object (keys in order), arrays as
// []any, numbers as json.Number (as written), nesting at most maxJSONDepth.
func decodeJSON(name string, data []byte) (any, error) {
	v, err := jsonv.ParseDepth(data, maxJSONDepth)
	if err != nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "%s is not valid JSON: %v", name, err)
	}
	return v, nil
}

// lookup walks segs down doc.
func lookup(doc any, segs []seg) (any, bool) {
	for _, s := range segs {
		switch v := doc.(type) {
		case *jsonv.Object:
			if !s.isKey {
				return nil, false
			}
			x, ok := v.M[s.key]
			if !ok {
				return nil, false
			}
			doc = x
		case []any:
			i := s.index
			if s.isKey || !inRange(&i, len(v)) {
				return nil, false
			}
			doc = v[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// inRange makes a negative index count from the end and reports whether it is in range.
func inRange(i *int, n int) bool {
	if *i < 0 {
		*i += n
	}
	return *i >= 0 && *i < n
}

// applyJSON returns doc with op applied at segs.
func applyJSON(doc any, segs []seg, op string, value any) (any, error) {
	if len(segs) == 0 {
		if op == "merge" {
			return mergePatch(doc, value), nil
		}
		return value, nil // set
	}
	s, rest := segs[0], segs[1:]
	last := len(rest) == 0
	switch v := doc.(type) {
	case nil:
		if op == "delete" {
			return nil, isoerr.New(isoerr.NotFound, "nothing at %v", s)
		}
		if !s.isKey {
			return nil, isoerr.New(isoerr.InvalidRequest, "no array to index with %v", s)
		}
		o := jsonv.NewObject()
		child, err := applyJSON(nil, rest, op, value)
		if err != nil {
			return nil, err
		}
		o.Set(s.key, child)
		return o, nil
	case *jsonv.Object:
		if !s.isKey {
			return nil, isoerr.New(isoerr.InvalidRequest, "%v indexes an object", s)
		}
		if op == "delete" && last {
			if !v.Delete(s.key) {
				return nil, isoerr.New(isoerr.NotFound, "no key %v", s)
			}
			return v, nil
		}
		child, ok := v.M[s.key]
		if !ok && op == "delete" {
			return nil, isoerr.New(isoerr.NotFound, "no key %v", s)
		}
		nc, err := applyJSON(child, rest, op, value)
		if err != nil {
			return nil, err
		}
		v.Set(s.key, nc)
		return v, nil
	case []any:
		if s.isKey {
			return nil, isoerr.New(isoerr.InvalidRequest, "key %v in an array", s)
		}
		i := s.index
		if op == "set" && last && i == len(v) {
			return append(v, value), nil
		}
		if !inRange(&i, len(v)) {
			return nil, isoerr.New(isoerr.NotFound, "index %d is outside the array of %d", s.index, len(v))
		}
		if op == "delete" && last {
			return append(v[:i], v[i+1:]...), nil
		}
		nc, err := applyJSON(v[i], rest, op, value)
		if err != nil {
			return nil, err
		}
		v[i] = nc
		return v, nil
	}
	if op == "delete" {
		return nil, isoerr.New(isoerr.NotFound, "nothing at %v", s)
	}
	return nil, isoerr.New(isoerr.InvalidRequest, "%v goes through a value that is neither an object nor an array", s)
}

// mergePatch applies patch to target as RFC 7386 says.
func mergePatch(target, patch any) any {
	p, ok := patch.(*jsonv.Object)
	if !ok {
		return patch
	}
	t, ok := target.(*jsonv.Object)
	if !ok {
		t = jsonv.NewObject()
	}
	for _, k := range p.Keys {
		if p.M[k] == nil {
			t.Delete(k)
			continue
		}
		t.Set(k, mergePatch(t.M[k], p.M[k]))
	}
	return t
}
