package jsonschema

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON type of a value; integer is not a kind (it is a number whose value has
// no fraction).
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

var kindNames = [...]string{"null", "boolean", "number", "string", "array", "object"}

// value is a parsed JSON value. Numbers keep their text (for exact comparisons) beside
// their nearest float64 (for fast ones); objects keep their members in the order written,
// with each key once (a repeated key keeps its last value, as encoding/json does).
type value struct {
	k    kind
	b    bool
	s    string // a string's value, or a number's text
	f    float64
	arr  []value
	obj  []member
	keys map[string]int32 // index into obj, for objects with many members
}

type member struct {
	key string
	val value
}

// manyMembers is the size from which an object indexes its keys: below it a scan is faster
// than a map.
const manyMembers = 16

// get returns the member named key, or nil.
func (v *value) get(key string) *value {
	if v.keys != nil {
		if i, ok := v.keys[key]; ok {
			return &v.obj[i].val
		}
		return nil
	}
	for i := range v.obj {
		if v.obj[i].key == key {
			return &v.obj[i].val
		}
	}
	return nil
}

// has reports whether the object has a member named key.
func (v *value) has(key string) bool { return v.get(key) != nil }

// parser decodes JSON text into values, nested at most maxDepth levels.
type parser struct {
	b        []byte
	i        int
	maxDepth int
}

// errDepth is the error for a document nested deeper than the bound.
var errDepth = errors.New("nested too deeply")

// parseJSON decodes one JSON value and nothing after it but white space.
func parseJSON(b []byte, maxDepth int) (value, error) {
	p := parser{b: b, maxDepth: maxDepth}
	var v value
	if err := p.value(&v, 0); err != nil {
		return value{}, err
	}
	p.space()
	if p.i != len(p.b) {
		return value{}, p.errorf("unexpected %q after the value", p.b[p.i])
	}
	return v, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(v *value, depth int) error {
	p.space()
	if p.i >= len(p.b) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		if depth >= p.maxDepth {
			return fmt.Errorf("JSON %w (more than %d levels)", errDepth, p.maxDepth)
		}
		return p.object(v, depth+1)
	case c == '[':
		if depth >= p.maxDepth {
			return fmt.Errorf("JSON %w (more than %d levels)", errDepth, p.maxDepth)
		}
		return p.array(v, depth+1)
	case c == '"':
		s, err := p.str()
		*v = value{k: kString, s: s}
		return err
	case c == '-' || c >= '0' && c <= '9':
		return p.number(v)
	case p.lit("true"):
		*v = value{k: kBool, b: true}
	case p.lit("false"):
		*v = value{k: kBool}
	case p.lit("null"):
		*v = value{k: kNull}
	default:
		return p.errorf("unexpected %q", c)
	}
	return nil
}

func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *parser) object(v *value, depth int) error {
	p.i++ // {
	*v = value{k: kObject}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.errorf("want a member name")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.errorf("want ':'")
		}
		p.i++
		var m value
		if err := p.value(&m, depth); err != nil {
			return err
		}
		if old := v.get(key); old != nil {
			*old = m
		} else {
			v.obj = append(v.obj, member{key, m})
			if v.keys != nil {
				v.keys[key] = int32(len(v.obj) - 1)
			} else if len(v.obj) == manyMembers {
				v.keys = make(map[string]int32, 2*manyMembers)
				for i := range v.obj {
					v.keys[v.obj[i].key] = int32(i)
				}
			}
		}
		p.space()
		if p.i >= len(p.b) {
			return p.errorf("unexpected end of input")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or '}'")
		}
	}
}

func (p *parser) array(v *value, depth int) error {
	p.i++ // [
	*v = value{k: kArray}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		v.arr = []value{}
		return nil
	}
	for {
		v.arr = append(v.arr, value{})
		if err := p.value(&v.arr[len(v.arr)-1], depth); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.b) {
			return p.errorf("unexpected end of input")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or ']'")
		}
	}
}

func (p *parser) number(v *value) error {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return p.errorf("malformed number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return p.errorf("malformed number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return p.errorf("malformed number")
		}
	}
	s := string(p.b[start:p.i])
	f, _ := strconv.ParseFloat(s, 64) // out of range: ±Inf or ±0, still ordered right
	*v = value{k: kNumber, s: s, f: f}
	return nil
}

// str decodes a string; invalid UTF-8 and lone surrogates become U+FFFD, as in
// encoding/json.
func (p *parser) str() (string, error) {
	p.i++ // "
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.errorf("unexpected end of input")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("malformed \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if x, ok := p.hex4(); ok && utf16.DecodeRune(r, x) != utf8.RuneError {
							r2 = x
						} else {
							p.i = save
						}
					}
					if r2 >= 0 {
						r = utf16.DecodeRune(r, r2)
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.errorf("malformed escape")
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			buf = utf8.AppendRune(buf, r)
			p.i += n
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
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
	p.i += 4
	return r, true
}

// equal is JSON equality: numbers by value (1 == 1.0), objects whatever the order of their
// members. It charges its work to the budget.
func (e *evaluator) equal(a, b *value) bool {
	e.budget--
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kNull:
		return true
	case kBool:
		return a.b == b.b
	case kNumber:
		return cmpNumber(a, b) == 0
	case kString:
		return a.s == b.s
	case kArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !e.equal(&a.arr[i], &b.arr[i]) {
				return false
			}
		}
		return true
	default:
		if len(a.obj) != len(b.obj) {
			return false
		}
		for i := range a.obj {
			o := b.get(a.obj[i].key)
			if o == nil || !e.equal(&a.obj[i].val, o) {
				return false
			}
		}
		return true
	}
}

// hash is a hash that agrees with equal: equal values hash alike (numbers hash their
// float64, which equal numbers share; members combine in any order).
func (e *evaluator) hash(h *maphash.Hash, v *value) uint64 {
	e.budget--
	h.Reset()
	switch v.k {
	case kNull, kBool:
		x := uint64(v.k)
		if v.b {
			x |= 1 << 8
		}
		return x * 0x9e3779b97f4a7c15
	case kNumber:
		f := v.f
		if f == 0 {
			f = 0 // -0 is 0
		}
		return math.Float64bits(f)*0x9e3779b97f4a7c15 ^ 0x5555
	case kString:
		h.WriteString(v.s)
		return h.Sum64()
	case kArray:
		x := uint64(len(v.arr)) + 0x1234567
		for i := range v.arr {
			x = x*31 + e.hash(h, &v.arr[i])
		}
		return x
	default:
		var x uint64 = 0xabcdef
		for i := range v.obj {
			h.Reset()
			h.WriteString(v.obj[i].key)
			k := h.Sum64()
			x += (k ^ e.hash(h, &v.obj[i].val)) * 0x9e3779b97f4a7c15
		}
		return x
	}
}
