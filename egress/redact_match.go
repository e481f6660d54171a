package egress

import (
	"encoding/base64"
	"math"
)

// This file holds what the redactor searches for (needles: each secret and the stable middle
// of its base64 encodings) and the Aho-Corasick automaton that finds them all in one pass
// over a decoded stream.

// needle is one byte string the redactor searches for.
type needle struct {
	n int
	// before and after: the needle is the stable middle of a base64 encoding whose first
	// (last) character also depends on the bytes next to the secret; the matcher extends
	// the redacted span over that partly-secret character.
	before, after bool
}

// minBase64 is the shortest stable base64 middle searched for: a shorter one (from a secret
// under 4 bytes) would redact most base64 text.
const minBase64 = 4

// needlesOf are the strings that betray secret v: v itself, and for each alignment of v in a
// base64 run (0, 1 or 2 bytes before it in its 3-byte group) and each alphabet (standard
// and URL-safe; padding never falls inside) the characters that depend on v's bytes only.
func needlesOf(v string) map[string]needle {
	out := map[string]needle{v: {n: len(v)}}
	for a := range 3 {
		buf := make([]byte, a+len(v))
		copy(buf[a:], v)
		bits := 8 * len(buf)
		first, last := (8*a+5)/6, bits/6 // characters [first, last) hold only v's bits
		if last-first < minBase64 {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString(buf)[first:last]
			n := out[s]
			n.n, n.before, n.after = len(s), n.before || 8*a%6 != 0, n.after || bits%6 != 0
			out[s] = n
		}
	}
	return out
}

// isBase64 reports whether c is in either base64 alphabet.
func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

// automaton is an Aho-Corasick automaton over the needles. Transitions out of the root are a
// table; every other state has its children in a sibling list and falls back along failure
// links, so building it costs the needles' length (and no allocation per state) and a
// search costs amortized O(1) per byte.
type automaton struct {
	root    [256]int32
	label   []byte  // the byte that leads to the state
	child   []int32 // first child, or 0
	sibling []int32 // next child of the same parent, or 0
	fail    []int32
	depth   []int32
	out     []int32 // needle ending at this state, or -1
	dict    []int32 // nearest state down the failure chain with an out, or -1
	emits   []bool  // out or dict is set: a needle ends here
	needles []needle
	maxLen  int
}

func compile(secrets []string) *automaton {
	a := &automaton{label: []byte{0}, child: []int32{0}, sibling: []int32{0}, depth: []int32{0}, out: []int32{-1}}
	for _, v := range secrets {
		for s, nd := range needlesOf(v) {
			a.insert(s, nd)
		}
	}
	n := len(a.label)
	a.fail, a.dict, a.emits = make([]int32, n), make([]int32, n), make([]bool, n)
	a.dict[0] = -1
	queue := make([]int32, 0, n)
	for c := a.child[0]; c != 0; c = a.sibling[c] {
		a.root[a.label[c]] = c
		a.dict[c] = -1
		queue = append(queue, c)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c := a.child[s]; c != 0; c = a.sibling[c] {
			f := a.step(a.fail[s], a.label[c])
			a.fail[c] = f
			if a.out[f] >= 0 {
				a.dict[c] = f
			} else {
				a.dict[c] = a.dict[f]
			}
			queue = append(queue, c)
		}
	}
	for s := range a.emits {
		a.emits[s] = a.out[s] >= 0 || a.dict[s] >= 0
	}
	return a
}

func (a *automaton) insert(s string, nd needle) {
	cur := int32(0)
	for i := 0; i < len(s); i++ {
		next := a.child[cur]
		for next != 0 && a.label[next] != s[i] {
			next = a.sibling[next]
		}
		if next == 0 {
			next = int32(len(a.label))
			a.label = append(a.label, s[i])
			a.child = append(a.child, 0)
			a.sibling = append(a.sibling, a.child[cur])
			a.depth = append(a.depth, int32(i+1))
			a.out = append(a.out, -1)
			a.child[cur] = next
		}
		cur = next
	}
	if a.out[cur] < 0 {
		a.out[cur] = int32(len(a.needles))
		a.needles = append(a.needles, nd)
	}
	a.maxLen = max(a.maxLen, len(s))
}

// step is the state after reading b in state s.
func (a *automaton) step(s int32, b byte) int32 {
	for s != 0 {
		for c := a.child[s]; c != 0; c = a.sibling[c] {
			if a.label[c] == b {
				return c
			}
		}
		s = a.fail[s]
	}
	return a.root[b]
}

// sink receives a decoded stream: each byte with the span [start, end) of input bytes it
// was decoded from.
type sink interface {
	put(c byte, start, end int64)
	// write is put of each byte of p, p[i] read from input offset off+i: a run the
	// decoders before passed through unchanged.
	write(p []byte, off int64)
	// flush ends the stream: tokens still open are decoded as far as they go.
	flush()
	// reset makes the pipeline ready for a new stream.
	reset()
	// live is the first input offset a match not yet found could still cover
	// (math.MaxInt64 when none).
	live() int64
}

// matcher is the last stage of every decoding pipeline: it runs the automaton over the
// decoded bytes and marks the input span of every needle it finds.
type matcher struct {
	a      *automaton
	mark   func(start, end int64)
	s      int32
	n      int64   // decoded bytes so far
	ring   []byte  // the last decoded bytes (ring[i&mask] is byte i) ...
	starts []int64 // ... the input offset each began at ...
	mask   int64   // ... for the longest needle and one byte before it
	ext    bool    // a base64 match waits for its next character
	extAt  int64   // where that match began
}

func newMatcher(a *automaton, mark func(start, end int64)) *matcher {
	size := 1
	for size < a.maxLen+2 {
		size *= 2
	}
	return &matcher{a: a, mark: mark, ring: make([]byte, size), starts: make([]int64, size), mask: int64(size - 1)}
}

func (m *matcher) put(c byte, start, end int64) {
	m.ring[m.n&m.mask], m.starts[m.n&m.mask] = c, start
	m.n++
	if m.ext {
		m.extend(c, end)
	}
	if m.s = m.a.step(m.s, c); m.a.emits[m.s] {
		m.found(end)
	}
}

func (m *matcher) write(p []byte, off int64) {
	a := m.a
	for i := 0; i < len(p); i++ {
		if m.s == 0 && !m.ext && a.root[p[i]] == 0 {
			// Bytes that begin no needle leave the automaton at its root: only the last
			// of them is kept, as the byte a base64 match may extend over.
			j := i + 1
			for j < len(p) && a.root[p[j]] == 0 {
				j++
			}
			i = j - 1
		}
		c := p[i]
		m.ring[m.n&m.mask], m.starts[m.n&m.mask] = c, off+int64(i)
		m.n++
		if m.ext {
			m.extend(c, off+int64(i)+1)
		}
		if m.s = a.step(m.s, c); a.emits[m.s] {
			m.found(off + int64(i) + 1)
		}
	}
}

// extend ends a base64 match waiting for its next character c, which ends at end.
func (m *matcher) extend(c byte, end int64) {
	m.ext = false
	if isBase64(c) {
		m.mark(m.extAt, end)
	}
}

// found marks the needles that end in the current state, the last decoded byte ending at
// input offset end.
func (m *matcher) found(end int64) {
	for t := m.s; t >= 0; t = m.a.dict[t] {
		k := m.a.out[t]
		if k < 0 {
			continue
		}
		nd := m.a.needles[k]
		first := m.n - int64(nd.n)
		at := m.starts[first&m.mask]
		if nd.before && first > 0 && isBase64(m.ring[(first-1)&m.mask]) {
			at = m.starts[(first-1)&m.mask]
		}
		m.mark(at, end)
		if nd.after {
			if !m.ext || at < m.extAt {
				m.extAt = at
			}
			m.ext = true
		}
	}
}

func (m *matcher) flush() { m.ext = false }

func (m *matcher) reset() { m.s, m.n, m.ext = 0, 0, false }

func (m *matcher) live() int64 {
	at := int64(math.MaxInt64)
	if d := int64(m.a.depth[m.s]); m.n > 0 {
		// The partial match, and the byte before it if a base64 match may extend over it.
		first := m.n - d
		if first > 0 && isBase64(m.ring[(first-1)&m.mask]) {
			first--
		}
		if first < m.n {
			at = m.starts[first&m.mask]
		}
	}
	if m.ext {
		at = min(at, m.extAt)
	}
	return at
}
