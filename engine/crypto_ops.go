package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/binary"
	"math/big"

	"filippo.io/edwards25519"
	"github.com/cloudflare/circl/sign/ed448"
)

func (k *cryptoKey) digest(alg *algParams, data []byte) ([]byte, error) {
	h, ok := hashes[alg.Hash]
	if !ok {
		if alg.Hash == "" {
			return nil, typeError("%s: hash is required", alg.Name)
		}
		return nil, cryptoError("NotSupportedError", "hash %q is not supported", alg.Hash)
	}
	d := h.New()
	d.Write(data)
	return d.Sum(nil), nil
}

func (k *cryptoKey) mac(data []byte) []byte {
	m := hmac.New(hashes[k.hash].New, k.secret)
	m.Write(data)
	return m.Sum(nil)
}

func (k *cryptoKey) sign(alg *algParams, data []byte) ([]byte, error) {
	switch k.alg {
	case "HMAC":
		return k.mac(data), nil
	case "Ed25519":
		return ed25519.Sign(k.priv.(ed25519.PrivateKey), data), nil
	case "Ed448":
		return sign448(k.priv.(ed448.PrivateKey), data, alg.Context)
	case "ECDSA":
		d, err := k.digest(alg, data)
		if err != nil {
			return nil, err
		}
		sk := k.priv.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, sk, d)
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		// WebCrypto's format is IEEE P1363: r || s, each the curve's size.
		size := (sk.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	case "RSASSA-PKCS1-v1_5", "RSA-PSS":
		alg.Hash = k.hash
		d, _ := k.digest(alg, data)
		sk := k.priv.(*rsa.PrivateKey)
		var sig []byte
		var err error
		if k.alg == "RSA-PSS" {
			if alg.SaltLength == 0 { // Go's 0 is "auto": crypto_pss.go signs with no salt
				return signPSSZeroSalt(sk, hashes[k.hash], d)
			}
			sig, err = rsa.SignPSS(rand.Reader, sk, hashes[k.hash], d, &rsa.PSSOptions{SaltLength: alg.SaltLength})
		} else {
			sig, err = rsa.SignPKCS1v15(nil, sk, hashes[k.hash], d)
		}
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		return sig, nil
	}
	return nil, cryptoError("InvalidAccessError", "%s keys cannot sign", k.alg)
}

// smallOrder reports whether p encodes an edwards25519 point of small order (or no point):
// WebCrypto's Ed25519 verify answers false when the public key or the signature's R is one
// (Secure Curves in the Web Cryptography API, "Verify"), which RFC 8032 verification alone
// does not; the WPT's eddsa_small_order_points vectors check it.
func smallOrder(p []byte) bool {
	pt, err := new(edwards25519.Point).SetBytes(p)
	if err != nil {
		return true
	}
	return new(edwards25519.Point).MultByCofactor(pt).Equal(edwards25519.NewIdentityPoint()) == 1
}

func (k *cryptoKey) verify(alg *algParams, data, sig []byte) (bool, error) {
	switch k.alg {
	case "HMAC":
		return hmac.Equal(k.mac(data), sig), nil
	case "Ed25519":
		pub := k.pub.(ed25519.PublicKey)
		if len(sig) != ed25519.SignatureSize || smallOrder(pub) || smallOrder(sig[:32]) {
			return false, nil
		}
		return ed25519.Verify(pub, data, sig), nil
	case "Ed448":
		return verify448(k.pub.(ed448.PublicKey), data, sig, alg.Context)
	case "ECDSA":
		d, err := k.digest(alg, data)
		if err != nil {
			return false, err
		}
		pk := k.pub.(*ecdsa.PublicKey)
		size := (pk.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false, nil
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(pk, d, r, s), nil
	case "RSASSA-PKCS1-v1_5", "RSA-PSS":
		alg.Hash = k.hash
		d, _ := k.digest(alg, data)
		pk := k.pub.(*rsa.PublicKey)
		if k.alg == "RSA-PSS" {
			if alg.SaltLength == 0 { // Go's 0 accepts any salt; WebCrypto's means none
				return verifyPSSZeroSalt(pk, hashes[k.hash], d, sig), nil
			}
			return rsa.VerifyPSS(pk, hashes[k.hash], d, sig, &rsa.PSSOptions{SaltLength: alg.SaltLength}) == nil, nil
		}
		return rsa.VerifyPKCS1v15(pk, hashes[k.hash], d, sig) == nil, nil
	}
	return false, cryptoError("InvalidAccessError", "%s keys cannot verify", k.alg)
}

// aead is AES-GCM with the full 128-bit tag for the iv's length, and the tag length in
// bytes the algorithm asks for. WebCrypto allows tags of 32 to 128 bits and ivs of any
// length; Go's GCM pairs short tags only with 12-byte ivs, so a shorter tag is the full
// tag truncated (GCM's tag is defined that way: NIST SP 800-38D, 7.1 step 6) and checked
// by gcmOpenShort.
func (k *cryptoKey) aead(alg *algParams) (cipher.AEAD, int, error) {
	block, _ := aes.NewCipher(k.secret)
	tag := alg.TagLength
	if tag == 0 {
		tag = 128
	}
	if len(alg.IV) == 0 {
		return nil, 0, cryptoError("OperationError", "AES-GCM needs a non-empty iv")
	}
	switch tag {
	case 32, 64, 96, 104, 112, 120, 128:
	default:
		return nil, 0, cryptoError("OperationError", "invalid AES-GCM tagLength %d", tag)
	}
	g, err := cipher.NewGCMWithNonceSize(block, len(alg.IV))
	if err != nil {
		return nil, 0, cryptoError("OperationError", "%v", err)
	}
	return g, tag / 8, nil
}

// gcmOpenShort opens AES-GCM data whose tag is cut to tag bytes (< 16): the keystream is the
// encryption of zeros under the same iv, and the plaintext's full tag, computed again, must
// begin with the given one (compared in constant time).
func gcmOpenShort(g cipher.AEAD, iv, data, aad []byte, tag int) ([]byte, bool) {
	ct, got := data[:len(data)-tag], data[len(data)-tag:]
	keystream := g.Seal(nil, iv, make([]byte, len(ct)), aad)[:len(ct)]
	plain := make([]byte, len(ct))
	subtle.XORBytes(plain, ct, keystream)
	want := g.Seal(nil, iv, plain, aad)[len(ct):][:tag]
	return plain, subtle.ConstantTimeCompare(want, got) == 1
}

// ctr is AES-CTR as WebCrypto defines it: only the rightmost length bits of the counter
// block increment, wrapping within them.
func (k *cryptoKey) ctr(alg *algParams, data []byte) ([]byte, error) {
	if len(alg.Counter) != 16 || alg.Length < 1 || alg.Length > 128 {
		return nil, cryptoError("OperationError", "AES-CTR needs a 16-byte counter and a length of 1..128 bits")
	}
	blocks := (len(data) + 15) / 16
	if alg.Length < 64 && uint64(blocks) > 1<<alg.Length {
		return nil, cryptoError("OperationError", "the data is longer than the counter allows")
	}
	block, _ := aes.NewCipher(k.secret)
	ctr := new(big.Int).SetBytes(alg.Counter)
	mod := new(big.Int).Lsh(big.NewInt(1), uint(alg.Length))
	low := new(big.Int).Mod(ctr, mod)
	high := new(big.Int).Sub(ctr, low)
	out := make([]byte, len(data))
	var cb, ks [16]byte
	one := big.NewInt(1)
	for i := 0; i < len(data); i += 16 {
		new(big.Int).Add(high, low).FillBytes(cb[:])
		block.Encrypt(ks[:], cb[:])
		subtle.XORBytes(out[i:], data[i:], ks[:])
		low.Add(low, one).Mod(low, mod)
	}
	return out, nil
}

var kwIV = []byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}

// kwWrap and kwUnwrap are AES Key Wrap (RFC 3394).
func kwWrap(key, p []byte) ([]byte, error) {
	if len(p)%8 != 0 || len(p) < 16 {
		return nil, cryptoError("OperationError", "AES-KW wraps a multiple of 8 bytes, at least 16")
	}
	block, _ := aes.NewCipher(key)
	n := len(p) / 8
	out := make([]byte, 8+len(p))
	copy(out[8:], p)
	a := binary.BigEndian.Uint64(kwIV)
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			binary.BigEndian.PutUint64(b[:8], a)
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			a = binary.BigEndian.Uint64(b[:8]) ^ uint64(n*j+i)
			copy(out[8*i:], b[8:])
		}
	}
	binary.BigEndian.PutUint64(out[:8], a)
	return out, nil
}

func kwUnwrap(key, c []byte) ([]byte, error) {
	if len(c)%8 != 0 || len(c) < 24 {
		return nil, cryptoError("OperationError", "AES-KW data must be a multiple of 8 bytes, at least 24")
	}
	block, _ := aes.NewCipher(key)
	n := len(c)/8 - 1
	out := make([]byte, len(c)-8)
	copy(out, c[8:])
	a := binary.BigEndian.Uint64(c[:8])
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			binary.BigEndian.PutUint64(b[:8], a^uint64(n*j+i))
			copy(b[8:], out[8*(i-1):8*i])
			block.Decrypt(b[:], b[:])
			a = binary.BigEndian.Uint64(b[:8])
			copy(out[8*(i-1):], b[8:])
		}
	}
	var got [8]byte
	binary.BigEndian.PutUint64(got[:], a)
	if subtle.ConstantTimeCompare(got[:], kwIV) != 1 {
		return nil, cryptoError("OperationError", "AES-KW integrity check failed")
	}
	return out, nil
}

func (k *cryptoKey) encrypt(alg *algParams, data []byte) ([]byte, error) {
	switch k.alg {
	case "AES-GCM":
		g, tag, err := k.aead(alg)
		if err != nil {
			return nil, err
		}
		return g.Seal(nil, alg.IV, data, alg.AdditionalData)[:len(data)+tag], nil
	case "AES-CBC":
		if len(alg.IV) != 16 {
			return nil, cryptoError("OperationError", "AES-CBC needs a 16-byte iv")
		}
		block, _ := aes.NewCipher(k.secret)
		pad := 16 - len(data)%16
		out := make([]byte, len(data)+pad)
		copy(out, data)
		for i := len(data); i < len(out); i++ {
			out[i] = byte(pad)
		}
		cipher.NewCBCEncrypter(block, alg.IV).CryptBlocks(out, out)
		return out, nil
	case "AES-CTR":
		return k.ctr(alg, data)
	case "AES-KW":
		return kwWrap(k.secret, data)
	case "RSA-OAEP":
		out, err := rsa.EncryptOAEP(hashes[k.hash].New(), rand.Reader, k.pub.(*rsa.PublicKey), data, alg.Label)
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		return out, nil
	}
	return nil, cryptoError("InvalidAccessError", "%s keys cannot encrypt", k.alg)
}

func (k *cryptoKey) decrypt(alg *algParams, data []byte) ([]byte, error) {
	fail := cryptoError("OperationError", "decryption failed")
	switch k.alg {
	case "AES-GCM":
		g, tag, err := k.aead(alg)
		if err != nil {
			return nil, err
		}
		if len(data) < tag {
			return nil, fail
		}
		if tag < g.Overhead() {
			out, ok := gcmOpenShort(g, alg.IV, data, alg.AdditionalData, tag)
			if !ok {
				return nil, fail
			}
			return out, nil
		}
		out, err := g.Open(nil, alg.IV, data, alg.AdditionalData)
		if err != nil {
			return nil, fail
		}
		return out, nil
	case "AES-CBC":
		if len(alg.IV) != 16 {
			return nil, cryptoError("OperationError", "AES-CBC needs a 16-byte iv")
		}
		if len(data) == 0 || len(data)%16 != 0 {
			return nil, fail
		}
		block, _ := aes.NewCipher(k.secret)
		out := make([]byte, len(data))
		cipher.NewCBCDecrypter(block, alg.IV).CryptBlocks(out, data)
		pad := int(out[len(out)-1])
		if pad == 0 || pad > 16 {
			return nil, fail
		}
		for _, b := range out[len(out)-pad:] {
			if int(b) != pad {
				return nil, fail
			}
		}
		return out[:len(out)-pad], nil
	case "AES-CTR":
		return k.ctr(alg, data)
	case "AES-KW":
		return kwUnwrap(k.secret, data)
	case "RSA-OAEP":
		out, err := rsa.DecryptOAEP(hashes[k.hash].New(), nil, k.priv.(*rsa.PrivateKey), data, alg.Label)
		if err != nil {
			return nil, fail
		}
		return out, nil
	}
	return nil, cryptoError("InvalidAccessError", "%s keys cannot decrypt", k.alg)
}

// truncateBits keeps the first n bits of b (nil: all of them).
func truncateBits(b []byte, n *int) ([]byte, error) {
	if n == nil {
		return b, nil
	}
	if *n > 8*len(b) || *n < 0 {
		return nil, cryptoError("OperationError", "length %d is more than the %d bits derived", *n, 8*len(b))
	}
	out := b[:(*n+7)/8]
	if r := *n % 8; r != 0 {
		out[len(out)-1] &= byte(0xff << (8 - r))
	}
	return out, nil
}

func (sb *Sandbox) deriveBits(k, peer *cryptoKey, alg *algParams, length *int) ([]byte, error) {
	switch k.alg {
	case "ECDH", "X25519", "X448":
		if peer.typ != "public" || peer.alg != k.alg || peer.curve != k.curve {
			return nil, cryptoError("InvalidAccessError", "the public key must be a %s public key on the same curve", k.alg)
		}
		if k.alg == "X448" {
			secret, err := deriveX448(k.priv.(*x448Private), peer.pub.(*x448Public))
			if err != nil {
				return nil, err
			}
			return truncateBits(secret, length)
		}
		var sk *ecdh.PrivateKey
		var pk *ecdh.PublicKey
		if k.alg == "X25519" {
			sk, pk = k.priv.(*ecdh.PrivateKey), peer.pub.(*ecdh.PublicKey)
		} else {
			var err error
			if sk, err = k.priv.(*ecdsa.PrivateKey).ECDH(); err == nil {
				pk, err = peer.pub.(*ecdsa.PublicKey).ECDH()
			}
			if err != nil {
				return nil, cryptoError("OperationError", "%v", err)
			}
		}
		secret, err := sk.ECDH(pk)
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		return truncateBits(secret, length)
	case "HKDF", "PBKDF2":
		if length == nil || *length%8 != 0 {
			return nil, cryptoError("OperationError", "%s needs a length that is a multiple of 8", k.alg)
		}
		h, ok := hashes[alg.Hash]
		if !ok {
			return nil, cryptoError("NotSupportedError", "hash %q is not supported", alg.Hash)
		}
		if *length == 0 {
			return []byte{}, nil
		}
		if k.alg == "HKDF" {
			out, err := hkdf.Key(h.New, k.secret, alg.Salt, string(alg.Info), *length/8)
			if err != nil {
				return nil, cryptoError("OperationError", "%v", err)
			}
			return out, nil
		}
		return sb.pbkdf2(k.secret, alg, *length/8)
	}
	return nil, cryptoError("InvalidAccessError", "%s keys cannot derive bits", k.alg)
}

// pbkdf2 is PBKDF2 (RFC 8018) with HMAC, polling the invocation's limits as it goes: a
// guest asking for millions of iterations is stopped by its CPU limit like a JS loop.
func (sb *Sandbox) pbkdf2(password []byte, alg *algParams, n int) ([]byte, error) {
	h := hashes[alg.Hash]
	if alg.Iterations <= 0 {
		return nil, cryptoError("OperationError", "PBKDF2 needs at least one iteration")
	}
	blocks := (n + h.Size() - 1) / h.Size()
	if uint64(alg.Iterations)*uint64(blocks) > maxPBKDF2Iterations {
		return nil, cryptoError("OperationError", "PBKDF2 work (iterations x blocks) is over the limit of %d", maxPBKDF2Iterations)
	}
	prf := hmac.New(h.New, password)
	out := make([]byte, 0, blocks*h.Size())
	u := make([]byte, h.Size())
	t := make([]byte, h.Size())
	var idx [4]byte
	for b := 1; b <= blocks; b++ {
		prf.Reset()
		prf.Write(alg.Salt)
		binary.BigEndian.PutUint32(idx[:], uint32(b))
		prf.Write(idx[:])
		u = prf.Sum(u[:0])
		copy(t, u)
		for i := 1; i < alg.Iterations; i++ {
			if i%4096 == 0 && sb.interrupt() != 0 {
				return nil, cryptoError("OperationError", "PBKDF2 stopped: the invocation hit a limit")
			}
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			subtle.XORBytes(t, t, u)
		}
		out = append(out, t...)
	}
	return out[:n], nil
}
