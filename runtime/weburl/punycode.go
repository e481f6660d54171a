package weburl

import (
	"errors"
	"sort"
	"strings"
)

// Punycode (RFC 3492). The textbook encoder scans the label once per distinct code point and
// the textbook decoder inserts into an array, both quadratic; these do the same arithmetic
// with Fenwick trees, in O(n log n), so that a long host name costs the host little.

const (
	punyBase        = 36
	punyTMin        = 1
	punyTMax        = 26
	punySkew        = 38
	punyDamp        = 700
	punyInitialBias = 72
	punyInitialN    = 128
	punyMaxInt      = 1<<31 - 1
)

var errPunycode = errors.New("invalid punycode")

func punyAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= punyDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((punyBase-punyTMin)*punyTMax)/2 {
		delta /= punyBase - punyTMin
		k += punyBase
	}
	return k + (punyBase-punyTMin+1)*delta/(delta+punySkew)
}

func punyThreshold(k, bias int) int {
	t := k - bias
	if t < punyTMin {
		return punyTMin
	}
	if t > punyTMax {
		return punyTMax
	}
	return t
}

func punyDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') + 26, true
	case c >= 'A' && c <= 'Z':
		return int(c - 'A'), true
	case c >= 'a' && c <= 'z':
		return int(c - 'a'), true
	}
	return 0, false
}

func punyEncodeDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}

// fenwick is a binary indexed tree of counts over positions 0..n-1.
type fenwick []int32

func newFenwick(n int) fenwick { return make(fenwick, n+1) }

// newFenwickOnes returns a tree with a count of 1 at every position.
func newFenwickOnes(n int) fenwick {
	f := make(fenwick, n+1)
	for i := 1; i <= n; i++ {
		f[i]++
		if j := i + i&-i; j <= n {
			f[j] += f[i]
		}
	}
	return f
}

func (f fenwick) add(i int, d int32) {
	for i++; i < len(f); i += i & -i {
		f[i] += d
	}
}

// prefix is the sum over positions [0, i).
func (f fenwick) prefix(i int) int {
	s := 0
	for ; i > 0; i -= i & -i {
		s += int(f[i])
	}
	return s
}

// kth returns the position of the k-th count (k >= 1), for trees of 0/1 counts.
func (f fenwick) kth(k int) int {
	pos := 0
	step := 1
	for step*2 < len(f) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if pos+step < len(f) && int(f[pos+step]) < k {
			pos += step
			k -= int(f[pos])
		}
	}
	return pos
}

func punycodeDecode(s string) (string, error) {
	var basic []rune
	pos := 0
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		for j := 0; j < i; j++ {
			if s[j] >= 0x80 {
				return "", errPunycode
			}
			basic = append(basic, rune(s[j]))
		}
		pos = i + 1
	}
	// Decode the insertions (index in the output so far, code point) first...
	type insertion struct {
		at int
		c  rune
	}
	var ins []insertion
	size := len(basic)
	n, i, bias := punyInitialN, 0, punyInitialBias
	for pos < len(s) {
		oldi, w := i, 1
		for k := punyBase; ; k += punyBase {
			if pos >= len(s) {
				return "", errPunycode
			}
			d, ok := punyDigit(s[pos])
			pos++
			if !ok || d > (punyMaxInt-i)/w {
				return "", errPunycode
			}
			i += d * w
			t := punyThreshold(k, bias)
			if d < t {
				break
			}
			if w > punyMaxInt/(punyBase-t) {
				return "", errPunycode
			}
			w *= punyBase - t
		}
		bias = punyAdapt(i-oldi, size+1, oldi == 0)
		if i/(size+1) > punyMaxInt-n {
			return "", errPunycode
		}
		n += i / (size + 1)
		i %= size + 1
		if n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF) {
			return "", errPunycode
		}
		ins = append(ins, insertion{i, rune(n)})
		size++
		i++
	}
	// ...then place them: going backwards, an insertion at index at takes the (at+1)-th slot
	// not taken by a later one; the basic code points fill the slots left, in order.
	out := make([]rune, size)
	taken := make([]bool, size)
	free := newFenwickOnes(size)
	for t := len(ins) - 1; t >= 0; t-- {
		slot := free.kth(ins[t].at + 1)
		out[slot] = ins[t].c
		taken[slot] = true
		free.add(slot, -1)
	}
	b := 0
	for slot := range out {
		if !taken[slot] {
			out[slot] = basic[b]
			b++
		}
	}
	return string(out), nil
}

func punycodeEncode(s string) (string, error) {
	input := []rune(s)
	var out []byte
	// less marks the positions whose code point is below n, the one being encoded.
	less := newFenwick(len(input))
	type occurrence struct {
		c   rune
		pos int
	}
	var occ []occurrence
	for j, c := range input {
		if c < 0x80 {
			out = append(out, byte(c))
			less.add(j, 1)
		} else {
			occ = append(occ, occurrence{c, j})
		}
	}
	sort.Slice(occ, func(a, b int) bool {
		if occ[a].c != occ[b].c {
			return occ[a].c < occ[b].c
		}
		return occ[a].pos < occ[b].pos
	})
	b := len(out)
	h := b
	if b > 0 {
		out = append(out, '-')
	}
	n, delta, bias := punyInitialN, 0, punyInitialBias
	for k := 0; k < len(occ); {
		m := int(occ[k].c)
		e := k
		for e < len(occ) && int(occ[e].c) == m {
			e++
		}
		if m-n > (punyMaxInt-delta)/(h+1) {
			return "", errPunycode
		}
		delta += (m - n) * (h + 1)
		n = m
		from := 0 // the code points below n in [from, pos) add to delta
		for _, o := range occ[k:e] {
			delta += less.prefix(o.pos) - less.prefix(from)
			if delta > punyMaxInt {
				return "", errPunycode
			}
			q := delta
			for k := punyBase; ; k += punyBase {
				t := punyThreshold(k, bias)
				if q < t {
					break
				}
				out = append(out, punyEncodeDigit(t+(q-t)%(punyBase-t)))
				q = (q - t) / (punyBase - t)
			}
			out = append(out, punyEncodeDigit(q))
			bias = punyAdapt(delta, h+1, h == b)
			delta = 0
			h++
			from = o.pos + 1
		}
		delta += less.prefix(len(input)) - less.prefix(from)
		if delta >= punyMaxInt {
			return "", errPunycode
		}
		for _, o := range occ[k:e] {
			less.add(o.pos, 1)
		}
		delta++
		n++
		k = e
	}
	return string(out), nil
}
