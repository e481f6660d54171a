package engine

// fastCompletion reads the two completion headers every hello-sized invocation sends,
// exactly as the runtime writes them (runtime/js/90_worker.js: responseHead, and an RPC
// that returned undefined):
//
//	{"ok":true,"status":200,"statusText":"","headers":[["content-type","text/plain;charset=UTF-8"]]}
//	{"ok":true}
//
// without encoding/json's reflection (~2–3 µs a call, 2.5% of a serving process's CPU
// under a hello load). It accepts only that text with no whitespace, a status of one to
// three digits without a leading zero, and strings of printable ASCII without '"' or '\';
// anything else (escapes, other fields, another order, a hostile guest's inventions) gives
// ok false and decodeCompletion reads it with encoding/json as before. For every text it
// accepts, its completion is the one encoding/json decodes (TestFastCompletionAgrees,
// FuzzFastCompletion).
func fastCompletion(raw []byte) (c completion, ok bool) {
	const okTrue = `{"ok":true`
	if len(raw) < len(okTrue)+1 || string(raw[:len(okTrue)]) != okTrue {
		return c, false
	}
	c.OK = true
	p := raw[len(okTrue):]
	if len(p) == 1 && p[0] == '}' {
		return c, true
	}
	p, ok = cut(p, `,"status":`)
	if !ok {
		return c, false
	}
	n := 0
	for n < len(p) && n < 4 && p[n] >= '0' && p[n] <= '9' {
		n++
	}
	if n == 0 || n > 3 || p[0] == '0' {
		return c, false
	}
	for _, d := range p[:n] {
		c.Status = c.Status*10 + int(d-'0')
	}
	p = p[n:]
	if p, ok = cut(p, `,"statusText":`); !ok {
		return c, false
	}
	if c.StatusText, p, ok = plainString(p); !ok {
		return c, false
	}
	if p, ok = cut(p, `,"headers":[`); !ok {
		return c, false
	}
	c.Headers = [][2]string{}
	for len(p) > 0 && p[0] != ']' {
		if len(c.Headers) > 0 {
			if p, ok = cut(p, ","); !ok {
				return c, false
			}
		}
		var kv [2]string
		if p, ok = cut(p, "["); !ok {
			return c, false
		}
		if kv[0], p, ok = plainString(p); !ok {
			return c, false
		}
		if p, ok = cut(p, ","); !ok {
			return c, false
		}
		if kv[1], p, ok = plainString(p); !ok {
			return c, false
		}
		if p, ok = cut(p, "]"); !ok {
			return c, false
		}
		c.Headers = append(c.Headers, kv)
	}
	if string(p) != "]}" {
		return c, false
	}
	return c, true
}

// cut removes prefix from p.
func cut(p []byte, prefix string) ([]byte, bool) {
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return p, false
	}
	return p[len(prefix):], true
}

// plainString reads a JSON string at the start of p whose bytes are printable ASCII other
// than '"' and '\' (so that its JSON value is its text), and returns the rest of p.
func plainString(p []byte) (s string, rest []byte, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return "", p, false
	}
	for i := 1; i < len(p); i++ {
		switch b := p[i]; {
		case b == '"':
			return string(p[1:i]), p[i+1:], true
		case b < 0x20 || b > 0x7e || b == '\\':
			return "", p, false
		}
	}
	return "", p, false
}
