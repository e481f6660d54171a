package engine

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"math/big"
)

// RSA-PSS with an empty salt (saltLength 0). Go's crypto/rsa reads SaltLength 0 as "auto"
// (the largest salt when signing, any salt when verifying), and its exported API has no
// other way to ask for none. With no salt EMSA-PSS is deterministic, so:
//
//   - verifying is re-encoding the digest and comparing it with the signature's public
//     opening s^e mod n (public data only);
//   - signing needs EM^d mod n for our own encoding EM, and the only private-key operation
//     used is Go's constant-time, fault-checked rsa.SignPKCS1v15 with no hash prefix,
//     which answers (A + t)^d for A = 00 01 FF×8 00 00…00 and any t < W = 2^(8(k-11)).
//     RSA is multiplicative: find t1, t2 < W with EM·(A + t2) ≡ A + t1 (mod n) and the
//     signature is s1 · s2⁻¹ mod n. Such pairs are plentiful (about W²/n of them) and one is
//     the lattice point nearest a target in the two-dimensional lattice
//     {(a, b) : b ≡ EM·a (mod n)}, found by Lagrange reduction and Babai rounding. The key's
//     secrets never leave crypto/rsa; everything computed here is public (the message's
//     encoding, the two PKCS #1 v1.5 signatures of public values, their quotient).
//
// RATIONALE §55 has the alternatives (math/big exponentiation, refusing) and why not.

// emsaPSSZeroSalt is EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with sLen = 0.
func emsaPSSZeroSalt(mHash []byte, emBits int, h crypto.Hash) ([]byte, error) {
	hLen, emLen := h.Size(), (emBits+7)/8
	if emLen < hLen+2 {
		return nil, cryptoError("OperationError", "the RSA key is too small for RSA-PSS with %s", h)
	}
	d := h.New()
	d.Write(make([]byte, 8))
	d.Write(mHash)
	hh := d.Sum(nil)
	em := make([]byte, emLen)
	db := em[:emLen-hLen-1]
	db[len(db)-1] = 0x01 // PS (zeros) || 0x01 || salt (none)
	mgf1XOR(db, h, hh)
	db[0] &= 0xff >> (8*emLen - emBits)
	copy(em[len(db):], hh)
	em[emLen-1] = 0xbc
	return em, nil
}

// mgf1XOR xors out with MGF1(seed) (RFC 8017 B.2.1).
func mgf1XOR(out []byte, h crypto.Hash, seed []byte) {
	var counter [4]byte
	for done := 0; done < len(out); {
		d := h.New()
		d.Write(seed)
		d.Write(counter[:])
		for _, b := range d.Sum(nil) {
			if done == len(out) {
				break
			}
			out[done] ^= b
			done++
		}
		binary.BigEndian.PutUint32(counter[:], binary.BigEndian.Uint32(counter[:])+1)
	}
}

// verifyPSSZeroSalt is EMSA-PSS-VERIFY with sLen = 0: the encoding is deterministic, so
// the signature's opening must equal it.
func verifyPSSZeroSalt(pk *rsa.PublicKey, h crypto.Hash, mHash, sig []byte) bool {
	k := (pk.N.BitLen() + 7) / 8
	if len(sig) != k {
		return false
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pk.N) >= 0 {
		return false
	}
	em, err := emsaPSSZeroSalt(mHash, pk.N.BitLen()-1, h)
	if err != nil {
		return false
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(pk.E)), pk.N)
	got := make([]byte, len(em))
	if m.BitLen() > 8*len(got) {
		return false
	}
	return bytes.Equal(m.FillBytes(got), em)
}

// signPSSZeroSalt signs mHash with RSA-PSS and an empty salt (see the comment above).
func signPSSZeroSalt(sk *rsa.PrivateKey, h crypto.Hash, mHash []byte) ([]byte, error) {
	em, err := emsaPSSZeroSalt(mHash, sk.N.BitLen()-1, h)
	if err != nil {
		return nil, err
	}
	return rawSignByPKCS1(sk, new(big.Int).SetBytes(em))
}

// rawSignByPKCS1 answers x^d mod n (x < n) for sk from two of Go's PKCS #1 v1.5
// signatures of public values (see the comment at the top of the file).
func rawSignByPKCS1(sk *rsa.PrivateKey, x *big.Int) ([]byte, error) {
	n := sk.N
	k := (n.BitLen() + 7) / 8
	if k < 64 {
		return nil, cryptoError("OperationError", "the RSA key is too small")
	}
	e := big.NewInt(int64(sk.E))
	prefix := make([]byte, k)
	prefix[1] = 1
	for i := 2; i < 10; i++ {
		prefix[i] = 0xff
	}
	a := new(big.Int).SetBytes(prefix)                   // 00 01 FF×8 00, then k-11 zero bytes
	w := new(big.Int).Lsh(big.NewInt(1), uint(8*(k-11))) // t < W
	// A solution exists for almost every x; when rounding misses the box (x sits on a
	// skewed lattice), blind x with r^e and try again.
	for attempt := 0; attempt < 16; attempt++ {
		r := big.NewInt(1)
		if attempt > 0 {
			b := make([]byte, k)
			_, _ = rand.Read(b)
			r.SetBytes(b).Mod(r, n)
		}
		rInv := new(big.Int).ModInverse(r, n)
		if rInv == nil {
			continue
		}
		y := new(big.Int).Exp(r, e, n)
		y.Mul(y, x).Mod(y, n) // y = x·r^e, so y^d = x^d·r
		t1, t2, ok := pkcs1Pair(y, a, w, n)
		if !ok || new(big.Int).GCD(nil, nil, new(big.Int).Add(a, t2), n).Cmp(big.NewInt(1)) != 0 {
			continue
		}
		s1, err := rsa.SignPKCS1v15(nil, sk, 0, t1.FillBytes(make([]byte, k-11)))
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		s2, err := rsa.SignPKCS1v15(nil, sk, 0, t2.FillBytes(make([]byte, k-11)))
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		s2Inv := new(big.Int).ModInverse(new(big.Int).SetBytes(s2), n)
		if s2Inv == nil {
			continue
		}
		s := new(big.Int).SetBytes(s1)
		s.Mul(s, s2Inv).Mod(s, n).Mul(s, rInv).Mod(s, n)
		if new(big.Int).Exp(s, e, n).Cmp(x) != 0 {
			return nil, cryptoError("OperationError", "RSA-PSS signing failed its check")
		}
		return s.FillBytes(make([]byte, k)), nil
	}
	return nil, cryptoError("OperationError", "RSA-PSS signing with an empty salt found no encoding")
}

// pkcs1Pair finds t1, t2 in [0, w) with y·(a + t2) ≡ a + t1 (mod n), i.e. the lattice
// point (t2, t1 + c), c = a - y·a mod n, of {(u, v) : v ≡ y·u (mod n)} inside the box
// [0, w) × [c, c + w): Babai rounding of the box's centre on a Lagrange-reduced basis.
func pkcs1Pair(y, a, w, n *big.Int) (t1, t2 *big.Int, ok bool) {
	c := new(big.Int).Mul(y, a)
	c.Sub(a, c).Mod(c, n)
	b1 := [2]*big.Int{big.NewInt(1), new(big.Int).Set(y)}
	b2 := [2]*big.Int{big.NewInt(0), new(big.Int).Set(n)}
	dot := func(u, v [2]*big.Int) *big.Int {
		d := new(big.Int).Mul(u[0], v[0])
		return d.Add(d, new(big.Int).Mul(u[1], v[1]))
	}
	for i := 0; i < 4*n.BitLen(); i++ { // Lagrange (Gauss) reduction: Euclid's pace
		if dot(b2, b2).Cmp(dot(b1, b1)) < 0 {
			b1, b2 = b2, b1
		}
		mu := roundDiv(dot(b1, b2), dot(b1, b1))
		if mu.Sign() == 0 {
			break
		}
		for j := range b2 {
			b2[j] = new(big.Int).Sub(b2[j], new(big.Int).Mul(mu, b1[j]))
		}
	}
	half := new(big.Int).Rsh(w, 1)
	tx, ty := half, new(big.Int).Add(c, half)
	det := new(big.Int).Sub(new(big.Int).Mul(b1[0], b2[1]), new(big.Int).Mul(b1[1], b2[0]))
	if det.Sign() == 0 {
		return nil, nil, false
	}
	// target = α·b1 + β·b2 (Cramer's rule), rounded
	alpha := roundDiv(new(big.Int).Sub(new(big.Int).Mul(tx, b2[1]), new(big.Int).Mul(ty, b2[0])), det)
	beta := roundDiv(new(big.Int).Sub(new(big.Int).Mul(b1[0], ty), new(big.Int).Mul(b1[1], tx)), det)
	px := new(big.Int).Add(new(big.Int).Mul(alpha, b1[0]), new(big.Int).Mul(beta, b2[0]))
	py := new(big.Int).Add(new(big.Int).Mul(alpha, b1[1]), new(big.Int).Mul(beta, b2[1]))
	t2, t1 = px, py.Sub(py, c)
	if t1.Sign() < 0 || t2.Sign() < 0 || t1.Cmp(w) >= 0 || t2.Cmp(w) >= 0 {
		return nil, nil, false
	}
	check := new(big.Int).Mul(y, new(big.Int).Add(a, t2))
	if check.Sub(check, new(big.Int).Add(a, t1)).Mod(check, n).Sign() != 0 {
		return nil, nil, false
	}
	return t1, t2, true
}

// roundDiv is p/q rounded to the nearest integer (q != 0).
func roundDiv(p, q *big.Int) *big.Int {
	p, q = new(big.Int).Set(p), new(big.Int).Set(q)
	if q.Sign() < 0 {
		p.Neg(p)
		q.Neg(q)
	}
	p.Lsh(p, 1).Add(p, q) // floor((2p + q) / 2q)
	return p.Div(p, q.Lsh(q, 1))
}
