package jsonschema

import (
	"cmp"
	"math"
	"math/big"
	"math/bits"
	"strings"
)

// Numbers are compared exactly, as the decimals they are written as: 0.1 is not 0.1000001,
// and 0.3 is a multiple of 0.1. A comparison tries the float64s first (rounding keeps
// order, so floats that differ decide it) and reads the digits only when they tie.

// decimal is digits × 10^exp, digits without leading or trailing zeros ("" for zero).
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// maxExp bounds exponents: 1e999999999999999999 is read as 1e1000000000000000, which no
// comparison with a number a schema or an input can hold tells apart.
const maxExp = 1e15

// parseDecimal reads a JSON number's text.
func parseDecimal(lit string) decimal {
	var d decimal
	i := 0
	if i < len(lit) && lit[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
		i++
	}
	intPart := lit[start:i]
	frac := ""
	if i < len(lit) && lit[i] == '.' {
		i++
		s := i
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		frac = lit[s:i]
	}
	var e int64
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		eneg := false
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			eneg = lit[i] == '-'
			i++
		}
		for ; i < len(lit); i++ {
			if e < maxExp {
				e = e*10 + int64(lit[i]-'0')
			}
		}
		if e > maxExp {
			e = maxExp
		}
		if eneg {
			e = -e
		}
	}
	digits := intPart
	if frac != "" {
		digits = intPart + frac
	}
	d.exp = e - int64(len(frac))
	digits = strings.TrimLeft(digits, "0")
	n := len(digits)
	digits = strings.TrimRight(digits, "0")
	d.exp += int64(n - len(digits))
	d.digits = digits
	if digits == "" {
		d.neg, d.exp = false, 0
	}
	return d
}

func (d decimal) sign() int {
	switch {
	case d.digits == "":
		return 0
	case d.neg:
		return -1
	}
	return 1
}

func cmpDecimal(a, b decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb || sa == 0 {
		return cmp.Compare(sa, sb)
	}
	c := 0
	if ma, mb := int64(len(a.digits))+a.exp, int64(len(b.digits))+b.exp; ma != mb {
		c = cmp.Compare(ma, mb)
	} else {
		c = strings.Compare(a.digits, b.digits) // no trailing zeros: a prefix is smaller
	}
	return c * sa
}

// plainInt reports whether a number's text is an integer without fraction or exponent
// small enough for its float64 to be exact.
func plainInt(v *value) bool {
	if math.Abs(v.f) > 1<<53 {
		return false
	}
	return strings.IndexAny(v.s, ".eE") < 0
}

// cmpNumber compares two numbers exactly.
func cmpNumber(a, b *value) int {
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	case a.s == b.s || plainInt(a) && plainInt(b):
		return 0
	}
	return cmpDecimal(parseDecimal(a.s), parseDecimal(b.s))
}

// isInteger reports whether a number has no fraction: 1.0 and 1e3 are integers.
func isInteger(v *value) bool {
	if !math.IsInf(v.f, 0) && v.f != math.Trunc(v.f) {
		return false // a float with a fraction rounds a number with one
	}
	if strings.IndexAny(v.s, ".eE") < 0 {
		return true
	}
	d := parseDecimal(v.s)
	return d.exp >= 0
}

// multipleOf reports whether v is an integer multiple of m (m > 0), exactly.
func multipleOf(v, m *value) bool {
	if plainInt(v) && plainInt(m) {
		a, b := int64(v.f), int64(m.f)
		return b != 0 && a%b == 0
	}
	a, b := parseDecimal(v.s), parseDecimal(m.s)
	if a.digits == "" {
		return true
	}
	if b.digits == "" {
		return false
	}
	k := a.exp - b.exp // v/m = (A/B)·10^k
	if k < 0 {
		return false // A has no factor 10 left to divide by, and B·10^-k needs one
	}
	if len(b.digits) <= 18 {
		var B uint64
		for i := 0; i < len(b.digits); i++ {
			B = B*10 + uint64(b.digits[i]-'0')
		}
		var r uint64
		for i := 0; i < len(a.digits); i++ {
			r = (r*10 + uint64(a.digits[i]-'0')) % B
		}
		return mulmod(r, powmod(10, uint64(k), B), B) == 0
	}
	A, _ := new(big.Int).SetString(a.digits, 10)
	B, _ := new(big.Int).SetString(b.digits, 10)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(k), B)
	A.Mul(A.Mod(A, B), p)
	return A.Mod(A, B).Sign() == 0
}

func mulmod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a%m, b%m)
	_, r := bits.Div64(hi, lo, m)
	return r
}

func powmod(x, k, m uint64) uint64 {
	r := uint64(1) % m
	x %= m
	for k > 0 {
		if k&1 == 1 {
			r = mulmod(r, x, m)
		}
		x = mulmod(x, x, m)
		k >>= 1
	}
	return r
}
