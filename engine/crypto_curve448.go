package engine

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"slices"

	"github.com/cloudflare/circl/dh/x448"
	"github.com/cloudflare/circl/ecc/goldilocks"
	"github.com/cloudflare/circl/sign/ed448"
)

// Ed448 and X448 (Secure Curves in the Web Cryptography API) on github.com/cloudflare/circl:
// the standard library has neither curve. Keys are ed448.PrivateKey/PublicKey and the two
// x448 types below; pkcs8 and spki are RFC 8410's, written here because crypto/x509 does
// not know the curves' object identifiers. RATIONALE §54.

// x448Private is an X448 private key (the 56-byte scalar as RFC 7748 writes it).
type x448Private struct{ secret, public x448.Key }

// x448Public is an X448 public key (a 56-byte u-coordinate).
type x448Public x448.Key

var (
	oidEd448 = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidX448  = asn1.ObjectIdentifier{1, 3, 101, 111}
)

// maxEd448Context is the longest Ed448 context RFC 8032 allows.
const maxEd448Context = 255

func newX448Private(secret []byte) (*x448Private, error) {
	if len(secret) != x448.Size {
		return nil, cryptoError("DataError", "an X448 private key is %d bytes", x448.Size)
	}
	k := &x448Private{}
	copy(k.secret[:], secret)
	x448.KeyGen(&k.public, &k.secret)
	return k, nil
}

func (k *x448Private) publicKey() *x448Public { p := x448Public(k.public); return &p }

// generate448 makes an Ed448 or X448 key pair.
func generate448(alg string) (priv, pub any) {
	if alg == "Ed448" {
		pk, sk, _ := ed448.GenerateKey(rand.Reader)
		return sk, pk
	}
	k, _ := newX448Private(randomBytes(x448.Size))
	return k, k.publicKey()
}

// raw448Public parses a raw Ed448 (57 bytes) or X448 (56 bytes) public key.
func raw448Public(alg string, raw []byte) (any, error) {
	if alg == "Ed448" {
		if len(raw) != ed448.PublicKeySize {
			return nil, cryptoError("DataError", "an Ed448 public key is %d bytes", ed448.PublicKeySize)
		}
		return ed448.PublicKey(slices.Clone(raw)), nil
	}
	if len(raw) != x448.Size {
		return nil, cryptoError("DataError", "an X448 public key is %d bytes", x448.Size)
	}
	var p x448Public
	copy(p[:], raw)
	return &p, nil
}

// private448 makes an Ed448 (a 57-byte seed) or X448 (56 bytes) private key.
func private448(alg string, d []byte) (priv, pub any, err error) {
	if alg == "Ed448" {
		if len(d) != ed448.SeedSize {
			return nil, nil, cryptoError("DataError", "an Ed448 private key is %d bytes", ed448.SeedSize)
		}
		sk := ed448.NewKeyFromSeed(d)
		return sk, sk.Public(), nil
	}
	k, err := newX448Private(d)
	if err != nil {
		return nil, nil, err
	}
	return k, k.publicKey(), nil
}

// public448Bytes and private448Bytes are the raw encodings (nil for other keys).
func public448Bytes(pub any) []byte {
	switch p := pub.(type) {
	case ed448.PublicKey:
		return p
	case *x448Public:
		return p[:]
	}
	return nil
}

func private448Bytes(priv any) []byte {
	switch p := priv.(type) {
	case ed448.PrivateKey:
		return p.Seed()
	case *x448Private:
		return slices.Clone(p.secret[:])
	}
	return nil
}

// RFC 8410's structures: the algorithm identifier has no parameters.
type algID448 struct{ Algorithm asn1.ObjectIdentifier }

type spki448 struct {
	Algorithm algID448
	PublicKey asn1.BitString
}

// pkcs8448 is a OneAsymmetricKey (RFC 5958); attributes and the optional public key that
// may follow are not read, as crypto/x509 does not read them for Ed25519.
type pkcs8448 struct {
	Version    int
	Algorithm  algID448
	PrivateKey []byte
}

func oid448(alg string) asn1.ObjectIdentifier {
	if alg == "Ed448" {
		return oidEd448
	}
	return oidX448
}

// parse448 reads an Ed448 or X448 key in spki or pkcs8 (typ "public" or "private").
func parse448(alg, format string, der []byte) (priv, pub any, err error) {
	bad := func(why string) error {
		return cryptoError("DataError", "invalid %s %s key data: %s", alg, format, why)
	}
	if format == "spki" {
		var s spki448
		rest, err := asn1.Unmarshal(der, &s)
		if err != nil || len(rest) != 0 {
			return nil, nil, bad("not a SubjectPublicKeyInfo")
		}
		if !s.Algorithm.Algorithm.Equal(oid448(alg)) {
			return nil, nil, cryptoError("DataError", "the key data is not a %s key", alg)
		}
		if s.PublicKey.BitLength%8 != 0 {
			return nil, nil, bad("the public key is not whole bytes")
		}
		pub, err := raw448Public(alg, s.PublicKey.Bytes)
		return nil, pub, err
	}
	var p pkcs8448
	rest, err := asn1.Unmarshal(der, &p)
	if err != nil || len(rest) != 0 || (p.Version != 0 && p.Version != 1) {
		return nil, nil, bad("not a PrivateKeyInfo")
	}
	if !p.Algorithm.Algorithm.Equal(oid448(alg)) {
		return nil, nil, cryptoError("DataError", "the key data is not a %s key", alg)
	}
	var d []byte // CurvePrivateKey ::= OCTET STRING
	if rest, err := asn1.Unmarshal(p.PrivateKey, &d); err != nil || len(rest) != 0 {
		return nil, nil, bad("the private key is not an OCTET STRING")
	}
	return private448(alg, d)
}

// marshal448 writes a key as spki (public) or pkcs8 (private).
func marshal448(alg, format string, priv, pub any) ([]byte, error) {
	var v any
	if format == "spki" {
		b := public448Bytes(pub)
		v = spki448{Algorithm: algID448{oid448(alg)}, PublicKey: asn1.BitString{Bytes: b, BitLength: 8 * len(b)}}
	} else {
		d, err := asn1.Marshal(private448Bytes(priv))
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		v = pkcs8448{Algorithm: algID448{oid448(alg)}, PrivateKey: d}
	}
	b, err := asn1.Marshal(v)
	if err != nil {
		return nil, cryptoError("OperationError", "%v", err)
	}
	return b, nil
}

// smallOrder448 reports whether p encodes an edwards448 point of small order (order 1, 2
// or 4: the cofactor is 4) or no point at all. Secure Curves' Ed448 verify answers false
// for such a public key or R, as smallOrder does for Ed25519.
func smallOrder448(p []byte) bool {
	pt, err := goldilocks.FromBytes(p)
	if err != nil {
		return true
	}
	pt.Double()
	pt.Double()
	return pt.IsIdentity()
}

// sign448 and verify448 are Ed448 (RFC 8032's pure variant) with an optional context.
func sign448(sk ed448.PrivateKey, data, context []byte) ([]byte, error) {
	if len(context) > maxEd448Context {
		return nil, cryptoError("OperationError", "an Ed448 context is at most %d bytes", maxEd448Context)
	}
	return ed448.Sign(sk, data, string(context)), nil
}

func verify448(pk ed448.PublicKey, data, sig, context []byte) (bool, error) {
	if len(context) > maxEd448Context {
		return false, cryptoError("OperationError", "an Ed448 context is at most %d bytes", maxEd448Context)
	}
	if len(sig) != ed448.SignatureSize || smallOrder448(pk) || smallOrder448(sig[:ed448.PublicKeySize]) {
		return false, nil
	}
	return ed448.Verify(pk, data, sig, string(context)), nil
}

// deriveX448 is X448 (RFC 7748); an all-zero result (a small-order peer) is the
// OperationError Secure Curves specifies.
func deriveX448(sk *x448Private, pk *x448Public) ([]byte, error) {
	var shared x448.Key
	peer := x448.Key(*pk)
	x448.Shared(&shared, &sk.secret, &peer)
	var zero x448.Key
	if subtle.ConstantTimeCompare(shared[:], zero[:]) == 1 {
		return nil, cryptoError("OperationError", "the X448 shared secret is zero (a small-order public key)")
	}
	return shared[:], nil
}
