package engine

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudflare/circl/sign/ed448"
)

// cryptoKey is one CryptoKey's host side. It never changes once made, so tables of forked
// and restored sandboxes share it.
type cryptoKey struct {
	alg         string // normalized algorithm name: "HMAC", "AES-GCM", "ECDSA", ...
	typ         string // "secret", "public" or "private"
	extractable bool
	usages      []string
	hash        string // HMAC and RSA: "SHA-256", ...
	length      int    // HMAC and AES: bits
	curve       string // ECDSA and ECDH: "P-256", ...
	secret      []byte // secret keys
	priv        any    // *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey, *ecdh.PrivateKey, ed448.PrivateKey, *x448Private
	pub         any    // *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey, *ecdh.PublicKey, ed448.PublicKey, *x448Public
}

// keyUsages are the usages each algorithm allows, for secret, private and public keys.
var keyUsages = map[string][3][]string{
	"HMAC":              {{"sign", "verify"}, nil, nil},
	"AES-GCM":           {{"encrypt", "decrypt", "wrapKey", "unwrapKey"}, nil, nil},
	"AES-CBC":           {{"encrypt", "decrypt", "wrapKey", "unwrapKey"}, nil, nil},
	"AES-CTR":           {{"encrypt", "decrypt", "wrapKey", "unwrapKey"}, nil, nil},
	"AES-KW":            {{"wrapKey", "unwrapKey"}, nil, nil},
	"HKDF":              {{"deriveKey", "deriveBits"}, nil, nil},
	"PBKDF2":            {{"deriveKey", "deriveBits"}, nil, nil},
	"ECDSA":             {nil, {"sign"}, {"verify"}},
	"Ed25519":           {nil, {"sign"}, {"verify"}},
	"RSASSA-PKCS1-v1_5": {nil, {"sign"}, {"verify"}},
	"RSA-PSS":           {nil, {"sign"}, {"verify"}},
	"RSA-OAEP":          {nil, {"decrypt", "unwrapKey"}, {"encrypt", "wrapKey"}},
	"ECDH":              {nil, {"deriveKey", "deriveBits"}, {}},
	"X25519":            {nil, {"deriveKey", "deriveBits"}, {}},
	"Ed448":             {nil, {"sign"}, {"verify"}},
	"X448":              {nil, {"deriveKey", "deriveBits"}, {}},
}

// isCurve448 reports whether alg is Ed448 or X448 (keys from crypto_curve448.go).
func isCurve448(alg string) bool { return alg == "Ed448" || alg == "X448" }

var hashes = map[string]crypto.Hash{"SHA-1": crypto.SHA1, "SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}

var curves = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}

// checkUsages checks usages against what alg allows for keys of type typ (SyntaxError).
// That a secret or private key has at least one is checked last (requireUsages): the spec
// reports a bad length or curve before empty usages.
func checkUsages(alg, typ string, usages []string) error {
	allowed, ok := keyUsages[alg]
	if !ok {
		return cryptoError("NotSupportedError", "algorithm %q is not supported", alg)
	}
	i := map[string]int{"secret": 0, "private": 1, "public": 2}[typ]
	for _, u := range usages {
		if !slices.Contains(allowed[i], u) {
			return cryptoError("SyntaxError", "usage %q is not valid for a %s %s key", u, alg, typ)
		}
	}
	return nil
}

// requireUsages is the last step of generateKey and importKey: a secret or private key
// with no usages is a SyntaxError (a public key may have none).
func requireUsages(k *cryptoKey) error {
	if k.typ != "public" && len(k.usages) == 0 {
		return cryptoError("SyntaxError", "a %s key needs at least one usage", k.typ)
	}
	return nil
}

func (k *cryptoKey) size() int {
	n := 128 + len(k.secret)
	if r, ok := k.pub.(*rsa.PublicKey); ok {
		n += 6 * len(r.N.Bytes())
	} else if k.pub != nil {
		n += 256
	}
	return n
}

// algorithm is the key's KeyAlgorithm dictionary (hash as a name, publicExponent in base64:
// the runtime builds the objects).
func (k *cryptoKey) algorithm() map[string]any {
	a := map[string]any{"name": k.alg}
	switch {
	case k.alg == "HMAC":
		a["hash"], a["length"] = k.hash, k.length
	case strings.HasPrefix(k.alg, "AES-"):
		a["length"] = k.length
	case k.alg == "ECDSA" || k.alg == "ECDH":
		a["namedCurve"] = k.curve
	case strings.HasPrefix(k.alg, "RSA"):
		pub := k.pub.(*rsa.PublicKey)
		a["hash"], a["modulusLength"] = k.hash, pub.N.BitLen()
		a["publicExponent"] = b64(big.NewInt(int64(pub.E)).Bytes())
	}
	return a
}

func hashOf(alg *algParams) (string, error) {
	if _, ok := hashes[alg.Hash]; !ok {
		if alg.Hash == "" {
			return "", typeError("%s: hash is required", alg.Name)
		}
		return "", cryptoError("NotSupportedError", "hash %q is not supported", alg.Hash)
	}
	return alg.Hash, nil
}

// newKey checks what every key needs and fills the common fields.
func newKey(alg *algParams, typ string, extractable bool, usages []string) (*cryptoKey, error) {
	if err := checkUsages(alg.Name, typ, usages); err != nil {
		return nil, err
	}
	// never nil: a key's usages are a JSON array, [] for a public ECDH key
	k := &cryptoKey{alg: alg.Name, typ: typ, extractable: extractable, usages: append([]string{}, usages...)}
	switch {
	case alg.Name == "HMAC" || strings.HasPrefix(alg.Name, "RSA"):
		h, err := hashOf(alg)
		if err != nil {
			return nil, err
		}
		k.hash = h
	case alg.Name == "ECDSA" || alg.Name == "ECDH":
		if curves[alg.NamedCurve] == nil {
			return nil, cryptoError("NotSupportedError", "named curve %q is not supported", alg.NamedCurve)
		}
		k.curve = alg.NamedCurve
	case alg.Name == "X25519" || alg.Name == "Ed25519" || isCurve448(alg.Name) || alg.Name == "PBKDF2" || alg.Name == "HKDF":
	}
	return k, nil
}

// generateKey makes a secret key (pub nil) or a key pair.
func generateKey(alg *algParams, extractable bool, usages []string) (pub, priv *cryptoKey, err error) {
	name := alg.Name
	if _, ok := keyUsages[name]; !ok || name == "HKDF" || name == "PBKDF2" {
		return nil, nil, cryptoError("NotSupportedError", "generateKey does not support %q", name)
	}
	if keyUsages[name][0] != nil {
		k, err := newKey(alg, "secret", extractable, usages)
		if err != nil {
			return nil, nil, err
		}
		n := alg.Length
		if name == "HMAC" {
			if n == 0 {
				n = hashes[k.hash].New().BlockSize() * 8
			}
			if n%8 != 0 || n <= 0 || n > 8192 {
				return nil, nil, cryptoError("OperationError", "HMAC key length %d is not supported (a multiple of 8 up to 8192)", n)
			}
		} else if n != 128 && n != 192 && n != 256 {
			return nil, nil, cryptoError("OperationError", "AES key length must be 128, 192 or 256")
		}
		k.length, k.secret = n, randomBytes(n/8)
		return nil, k, requireUsages(k)
	}
	// A pair: usages split between the two halves.
	var privUses, pubUses []string
	for _, u := range usages {
		if slices.Contains(keyUsages[name][2], u) {
			pubUses = append(pubUses, u)
		} else {
			privUses = append(privUses, u)
		}
	}
	if priv, err = newKey(alg, "private", extractable, privUses); err != nil {
		return nil, nil, err
	}
	if pub, err = newKey(alg, "public", true, pubUses); err != nil {
		return nil, nil, err
	}
	switch name {
	case "ECDSA", "ECDH":
		sk, err := ecdsa.GenerateKey(curves[priv.curve], rand.Reader)
		if err != nil {
			return nil, nil, cryptoError("OperationError", "%v", err)
		}
		priv.priv, priv.pub, pub.pub = sk, &sk.PublicKey, &sk.PublicKey
	case "Ed25519":
		pk, sk, _ := ed25519.GenerateKey(rand.Reader)
		priv.priv, priv.pub, pub.pub = sk, pk, pk
	case "X25519":
		sk, _ := ecdh.X25519().GenerateKey(rand.Reader)
		priv.priv, priv.pub, pub.pub = sk, sk.PublicKey(), sk.PublicKey()
	case "Ed448", "X448":
		sk, pk := generate448(name)
		priv.priv, priv.pub, pub.pub = sk, pk, pk
	default: // RSA
		if alg.ModulusLength < 1024 || alg.ModulusLength > maxRSABits || alg.ModulusLength%8 != 0 {
			return nil, nil, cryptoError("OperationError", "modulusLength must be a multiple of 8 from 1024 to %d", maxRSABits)
		}
		if e := new(big.Int).SetBytes(alg.PublicExponent); e.Cmp(big.NewInt(65537)) != 0 {
			return nil, nil, cryptoError("OperationError", "only publicExponent 65537 (0x010001) is supported")
		}
		sk, err := rsa.GenerateKey(rand.Reader, alg.ModulusLength)
		if err != nil {
			return nil, nil, cryptoError("OperationError", "%v", err)
		}
		priv.priv, priv.pub, pub.pub = sk, &sk.PublicKey, &sk.PublicKey
	}
	if err := requireUsages(priv); err != nil {
		return nil, nil, err
	}
	return pub, priv, nil
}

// importKey parses key data of a format (data: a base64 JSON string, or a JWK object).
func importKey(format string, alg *algParams, data json.RawMessage, extractable bool, usages []string) (*cryptoKey, error) {
	k, err := importKeyData(format, alg, data, extractable, usages)
	if err != nil {
		return nil, err
	}
	if err := requireUsages(k); err != nil {
		return nil, err
	}
	return k, nil
}

func importKeyData(format string, alg *algParams, data json.RawMessage, extractable bool, usages []string) (*cryptoKey, error) {
	if _, ok := keyUsages[alg.Name]; !ok {
		return nil, cryptoError("NotSupportedError", "algorithm %q is not supported", alg.Name)
	}
	if (alg.Name == "HKDF" || alg.Name == "PBKDF2") && format != "raw" {
		return nil, cryptoError("NotSupportedError", "%s keys are imported only as raw", alg.Name)
	}
	if format == "jwk" {
		var jwk map[string]any
		if err := json.Unmarshal(data, &jwk); err != nil || jwk == nil {
			return nil, cryptoError("DataError", "the JWK is not a JSON object")
		}
		return importJWK(alg, jwk, extractable, usages)
	}
	var raw b64
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, cryptoError("DataError", "the key data is not a BufferSource")
	}
	secret := keyUsages[alg.Name][0] != nil
	switch format {
	case "raw":
		if secret {
			return importSecret(alg, raw, extractable, usages)
		}
		return importRawPublic(alg, raw, extractable, usages)
	case "spki", "pkcs8":
		if secret {
			return nil, cryptoError("NotSupportedError", "%s keys cannot be imported as %s", alg.Name, format)
		}
		if isCurve448(alg.Name) {
			typ := map[string]string{"spki": "public", "pkcs8": "private"}[format]
			k, err := newKey(alg, typ, extractable, usages)
			if err != nil {
				return nil, err
			}
			k.priv, k.pub, err = parse448(alg.Name, format, raw)
			return k, err
		}
		var parsed any
		var err error
		typ := "public"
		if format == "spki" {
			parsed, err = x509.ParsePKIXPublicKey(raw)
			if point, ok := compressedECSPKI(raw, alg); err != nil && ok {
				return importRawPublic(alg, point, extractable, usages)
			}
		} else {
			typ = "private"
			parsed, err = x509.ParsePKCS8PrivateKey(raw)
		}
		if err != nil {
			return nil, cryptoError("DataError", "invalid %s key data: %v", format, err)
		}
		k, err := newKey(alg, typ, extractable, usages)
		if err != nil {
			return nil, err
		}
		return k, k.setParsed(parsed)
	}
	return nil, cryptoError("NotSupportedError", "key format %q is not supported", format)
}

// ecCurveOIDs are the named curves' object identifiers (RFC 5480).
var ecCurveOIDs = map[string]asn1.ObjectIdentifier{
	"P-256": {1, 2, 840, 10045, 3, 1, 7}, "P-384": {1, 3, 132, 0, 34}, "P-521": {1, 3, 132, 0, 35},
}

// compressedECSPKI answers the point of an EC SubjectPublicKeyInfo in compressed form (RFC
// 5480 allows it; Go's x509 parses only uncompressed points) on alg's curve.
func compressedECSPKI(der []byte, alg *algParams) ([]byte, bool) {
	if alg.Name != "ECDSA" && alg.Name != "ECDH" {
		return nil, false
	}
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.ObjectIdentifier
		}
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil || len(rest) != 0 || !spki.Algorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}) {
		return nil, false
	}
	point := spki.PublicKey.RightAlign()
	if !spki.Algorithm.Parameters.Equal(ecCurveOIDs[alg.NamedCurve]) || len(point) == 0 || (point[0] != 2 && point[0] != 3) {
		return nil, false
	}
	return point, true
}

// setParsed stores a key parsed from pkcs8/spki, checking it suits k's algorithm.
func (k *cryptoKey) setParsed(parsed any) error {
	mismatch := cryptoError("DataError", "the key data is not a %s key", k.alg)
	switch p := parsed.(type) {
	case *ecdsa.PrivateKey:
		if (k.alg != "ECDSA" && k.alg != "ECDH") || p.Curve != curves[k.curve] {
			return mismatch
		}
		k.priv, k.pub = p, &p.PublicKey
	case *ecdsa.PublicKey:
		if (k.alg != "ECDSA" && k.alg != "ECDH") || p.Curve != curves[k.curve] {
			return mismatch
		}
		k.pub = p
	case *rsa.PrivateKey:
		if !strings.HasPrefix(k.alg, "RSA") {
			return mismatch
		}
		k.priv, k.pub = p, &p.PublicKey
	case *rsa.PublicKey:
		if !strings.HasPrefix(k.alg, "RSA") {
			return mismatch
		}
		k.pub = p
	case ed25519.PrivateKey:
		if k.alg != "Ed25519" {
			return mismatch
		}
		k.priv, k.pub = p, p.Public()
	case ed25519.PublicKey:
		if k.alg != "Ed25519" {
			return mismatch
		}
		k.pub = p
	case *ecdh.PrivateKey:
		if k.alg != "X25519" || p.Curve() != ecdh.X25519() {
			return mismatch
		}
		k.priv, k.pub = p, p.PublicKey()
	case *ecdh.PublicKey:
		if k.alg != "X25519" || p.Curve() != ecdh.X25519() {
			return mismatch
		}
		k.pub = p
	default:
		return mismatch
	}
	if r, ok := k.pub.(*rsa.PublicKey); ok && r.N.BitLen() > 2*maxRSABits {
		return cryptoError("DataError", "RSA keys of more than %d bits are not supported", 2*maxRSABits)
	}
	return nil
}

func importSecret(alg *algParams, raw []byte, extractable bool, usages []string) (*cryptoKey, error) {
	if (alg.Name == "HKDF" || alg.Name == "PBKDF2") && extractable {
		return nil, cryptoError("SyntaxError", "%s keys cannot be extractable", alg.Name)
	}
	k, err := newKey(alg, "secret", extractable, usages)
	if err != nil {
		return nil, err
	}
	k.secret = slices.Clone(raw)
	k.length = 8 * len(raw)
	switch {
	case alg.Name == "HMAC":
		if len(raw) == 0 {
			return nil, cryptoError("DataError", "an HMAC key cannot be empty")
		}
		if alg.Length != 0 {
			if alg.Length > k.length || alg.Length <= k.length-8 {
				return nil, cryptoError("DataError", "length %d does not match the key's %d bytes", alg.Length, len(raw))
			}
			k.length = alg.Length
		}
	case strings.HasPrefix(alg.Name, "AES-"):
		if k.length != 128 && k.length != 192 && k.length != 256 {
			return nil, cryptoError("DataError", "an AES key must be 16, 24 or 32 bytes, not %d", len(raw))
		}
	default:
		k.length = 0
	}
	if len(raw) > 1<<16 {
		return nil, cryptoError("DataError", "a secret key of %d bytes is over the 64 KiB limit", len(raw))
	}
	return k, nil
}

// importRawPublic imports a public key's raw bytes. An imported public key is as
// extractable as importKey said (only generateKey's public half is always extractable).
func importRawPublic(alg *algParams, raw []byte, extractable bool, usages []string) (*cryptoKey, error) {
	k, err := newKey(alg, "public", extractable, usages)
	if err != nil {
		return nil, err
	}
	switch alg.Name {
	case "ECDSA", "ECDH":
		c := curves[k.curve]
		if len(raw) > 0 && raw[0] != 4 {
			x, y := elliptic.UnmarshalCompressed(c, raw)
			if x == nil {
				return nil, cryptoError("DataError", "invalid %s point", k.curve)
			}
			raw = elliptic.Marshal(c, x, y) //nolint:staticcheck // re-encoded uncompressed, then validated below
		}
		p, err := ecdsa.ParseUncompressedPublicKey(c, raw)
		if err != nil {
			return nil, cryptoError("DataError", "invalid %s public key: %v", k.curve, err)
		}
		k.pub = p
	case "Ed25519":
		if len(raw) != ed25519.PublicKeySize {
			return nil, cryptoError("DataError", "an Ed25519 public key is 32 bytes")
		}
		k.pub = ed25519.PublicKey(slices.Clone(raw))
	case "X25519":
		p, err := ecdh.X25519().NewPublicKey(raw)
		if err != nil {
			return nil, cryptoError("DataError", "invalid X25519 public key: %v", err)
		}
		k.pub = p
	case "Ed448", "X448":
		if k.pub, err = raw448Public(alg.Name, raw); err != nil {
			return nil, err
		}
	default:
		return nil, cryptoError("NotSupportedError", "%s keys cannot be imported as raw", alg.Name)
	}
	return k, nil
}

// export answers the key's bytes in format raw, pkcs8 or spki.
func (k *cryptoKey) export(format string) ([]byte, error) {
	switch {
	case format == "raw" && k.typ == "secret":
		return k.secret, nil
	case format == "raw" && k.typ == "public":
		switch p := k.pub.(type) {
		case *ecdsa.PublicKey:
			return p.Bytes()
		case ed25519.PublicKey:
			return p, nil
		case *ecdh.PublicKey:
			return p.Bytes(), nil
		case ed448.PublicKey, *x448Public:
			return public448Bytes(p), nil
		}
	case (format == "spki" && k.typ == "public" || format == "pkcs8" && k.typ == "private") && isCurve448(k.alg):
		return marshal448(k.alg, format, k.priv, k.pub)
	case format == "spki" && k.typ == "public":
		b, err := x509.MarshalPKIXPublicKey(k.pub)
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		return b, nil
	case format == "pkcs8" && k.typ == "private":
		b, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return nil, cryptoError("OperationError", "%v", err)
		}
		return b, nil
	}
	return nil, cryptoError("InvalidAccessError", "a %s %s key cannot be exported as %s", k.alg, k.typ, format)
}

var b64url = base64.RawURLEncoding

var ecdsaJWKAlg = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}

func jwkBytes(jwk map[string]any, name string, required bool) ([]byte, error) {
	v, ok := jwk[name]
	if !ok {
		if required {
			return nil, cryptoError("DataError", "the JWK has no %q member", name)
		}
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, cryptoError("DataError", "the JWK's %q member is not a string", name)
	}
	b, err := b64url.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, cryptoError("DataError", "the JWK's %q member is not base64url", name)
	}
	return b, nil
}

// jwkAlg is the JWK "alg" of a key, "" when the algorithm has none.
func jwkAlg(alg, hash string, length int) string {
	bits := strings.TrimPrefix(hash, "SHA-")
	switch alg {
	case "HMAC":
		return "HS" + bits
	case "AES-GCM", "AES-CBC", "AES-CTR", "AES-KW":
		return "A" + strconv.Itoa(length) + strings.TrimPrefix(alg, "AES-")
	case "RSASSA-PKCS1-v1_5":
		return "RS" + bits
	case "RSA-PSS":
		return "PS" + bits
	case "RSA-OAEP":
		if bits == "1" {
			return "RSA-OAEP"
		}
		return "RSA-OAEP-" + bits
	case "Ed25519", "Ed448":
		return alg
	}
	return ""
}

func importJWK(alg *algParams, jwk map[string]any, extractable bool, usages []string) (*cryptoKey, error) {
	kty, _ := jwk["kty"].(string)
	// The spec checks usages against the key's type (SyntaxError) before reading the JWK.
	typ := "public"
	if keyUsages[alg.Name][0] != nil {
		typ = "secret"
	} else if _, ok := jwk["d"]; ok {
		typ = "private"
	}
	if err := checkUsages(alg.Name, typ, usages); err != nil {
		return nil, err
	}
	if ext, ok := jwk["ext"].(bool); ok && !ext && extractable {
		return nil, cryptoError("DataError", "the JWK is not extractable (ext: false)")
	}
	if ops, ok := jwk["key_ops"].([]any); ok {
		for _, u := range usages {
			if !slices.Contains(ops, any(u)) {
				return nil, cryptoError("DataError", "the JWK's key_ops do not include %q", u)
			}
		}
	}
	if use, ok := jwk["use"].(string); ok && len(usages) > 0 {
		want := "enc"
		if alg.Name == "HMAC" || alg.Name == "ECDSA" || alg.Name == "Ed25519" || alg.Name == "Ed448" || alg.Name == "RSASSA-PKCS1-v1_5" || alg.Name == "RSA-PSS" {
			want = "sig"
		}
		if use != want {
			return nil, cryptoError("DataError", "the JWK's use %q does not suit %s", use, alg.Name)
		}
	}
	checkAlg := func(k *cryptoKey) error {
		if a, ok := jwk["alg"].(string); ok {
			if want := jwkAlg(k.alg, k.hash, k.length); want != "" && a != want && !((k.alg == "Ed25519" || k.alg == "Ed448") && a == "EdDSA") {
				return cryptoError("DataError", "the JWK's alg %q does not match %s", a, want)
			}
		}
		return nil
	}
	_, hasD := jwk["d"]
	switch {
	case keyUsages[alg.Name][0] != nil:
		if kty != "oct" {
			return nil, cryptoError("DataError", "a %s JWK must have kty \"oct\"", alg.Name)
		}
		raw, err := jwkBytes(jwk, "k", true)
		if err != nil {
			return nil, err
		}
		k, err := importSecret(alg, raw, extractable, usages)
		if err != nil {
			return nil, err
		}
		return k, checkAlg(k)
	case alg.Name == "ECDSA" || alg.Name == "ECDH":
		if kty != "EC" {
			return nil, cryptoError("DataError", "a %s JWK must have kty \"EC\"", alg.Name)
		}
		if crv, _ := jwk["crv"].(string); crv != alg.NamedCurve {
			return nil, cryptoError("DataError", "the JWK's crv %q is not %s", crv, alg.NamedCurve)
		}
		c := curves[alg.NamedCurve]
		if c == nil {
			return nil, cryptoError("NotSupportedError", "named curve %q is not supported", alg.NamedCurve)
		}
		size := (c.Params().BitSize + 7) / 8
		x, err := jwkBytes(jwk, "x", true)
		if err != nil {
			return nil, err
		}
		y, err := jwkBytes(jwk, "y", true)
		if err != nil {
			return nil, err
		}
		if len(x) != size || len(y) != size {
			return nil, cryptoError("DataError", "the JWK's coordinates must be %d bytes", size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, cryptoError("DataError", "invalid EC point: %v", err)
		}
		typ := map[bool]string{true: "private", false: "public"}[hasD]
		k, err := newKey(alg, typ, extractable, usages)
		if err != nil {
			return nil, err
		}
		k.pub = pub
		if hasD {
			d, err := jwkBytes(jwk, "d", true)
			if err != nil {
				return nil, err
			}
			sk, err := ecdsa.ParseRawPrivateKey(c, d)
			if err != nil || !sk.PublicKey.Equal(pub) {
				return nil, cryptoError("DataError", "the JWK's d does not match its public point")
			}
			k.priv, k.pub = sk, &sk.PublicKey
		}
		if alg.Name == "ECDSA" {
			if a, ok := jwk["alg"].(string); ok && a != ecdsaJWKAlg[alg.NamedCurve] {
				return nil, cryptoError("DataError", "the JWK's alg %q does not match %s", a, alg.NamedCurve)
			}
		}
		return k, nil
	case alg.Name == "Ed25519" || alg.Name == "X25519" || isCurve448(alg.Name):
		if crv, _ := jwk["crv"].(string); kty != "OKP" || crv != alg.Name {
			return nil, cryptoError("DataError", "a %s JWK must have kty \"OKP\" and crv %q", alg.Name, alg.Name)
		}
		x, err := jwkBytes(jwk, "x", true)
		if err != nil {
			return nil, err
		}
		if !hasD {
			k, err := importRawPublic(alg, x, extractable, usages)
			if err != nil {
				return nil, err
			}
			return k, checkAlg(k) // a public key's alg is checked too
		}
		d, err := jwkBytes(jwk, "d", true)
		if err != nil {
			return nil, err
		}
		k, err := newKey(alg, "private", extractable, usages)
		if err != nil {
			return nil, err
		}
		if isCurve448(alg.Name) {
			if k.priv, k.pub, err = private448(alg.Name, d); err != nil {
				return nil, err
			}
		} else if alg.Name == "Ed25519" {
			if len(d) != ed25519.SeedSize {
				return nil, cryptoError("DataError", "an Ed25519 private key is 32 bytes")
			}
			sk := ed25519.NewKeyFromSeed(d)
			k.priv, k.pub = sk, sk.Public()
		} else {
			sk, err := ecdh.X25519().NewPrivateKey(d)
			if err != nil {
				return nil, cryptoError("DataError", "invalid X25519 private key: %v", err)
			}
			k.priv, k.pub = sk, sk.PublicKey()
		}
		if !bytes.Equal(publicBytes(k.pub), x) {
			return nil, cryptoError("DataError", "the JWK's d does not match its x")
		}
		return k, checkAlg(k)
	default: // RSA
		if kty != "RSA" {
			return nil, cryptoError("DataError", "a %s JWK must have kty \"RSA\"", alg.Name)
		}
		n, err := jwkBytes(jwk, "n", true)
		if err != nil {
			return nil, err
		}
		e, err := jwkBytes(jwk, "e", true)
		if err != nil {
			return nil, err
		}
		if len(e) > 4 || len(n) == 0 || len(n) > 2*maxRSABits/8 {
			return nil, cryptoError("DataError", "unsupported RSA modulus or exponent size")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		typ := map[bool]string{true: "private", false: "public"}[hasD]
		k, err := newKey(alg, typ, extractable, usages)
		if err != nil {
			return nil, err
		}
		k.pub = pub
		if hasD {
			var parts [5][]byte
			for i, name := range []string{"d", "p", "q", "dp", "dq"} {
				if parts[i], err = jwkBytes(jwk, name, true); err != nil {
					return nil, err
				}
			}
			sk := &rsa.PrivateKey{PublicKey: *pub, D: new(big.Int).SetBytes(parts[0]),
				Primes: []*big.Int{new(big.Int).SetBytes(parts[1]), new(big.Int).SetBytes(parts[2])}}
			if err := sk.Validate(); err != nil {
				return nil, cryptoError("DataError", "invalid RSA private key: %v", err)
			}
			sk.Precompute()
			k.priv, k.pub = sk, &sk.PublicKey
		} else if pub.E < 3 || pub.E%2 == 0 {
			return nil, cryptoError("DataError", "invalid RSA public exponent")
		}
		return k, checkAlg(k)
	}
}

// publicBytes is the raw encoding of an Ed25519, X25519, Ed448 or X448 public key.
func publicBytes(pub any) []byte {
	switch p := pub.(type) {
	case ed448.PublicKey, *x448Public:
		return public448Bytes(p)
	case ed25519.PublicKey:
		return p
	case *ecdh.PublicKey:
		return p.Bytes()
	}
	return nil
}

func (k *cryptoKey) exportJWK() (map[string]any, error) {
	enc := b64url.EncodeToString
	jwk := map[string]any{"key_ops": k.usages, "ext": k.extractable}
	if a := jwkAlg(k.alg, k.hash, k.length); a != "" {
		jwk["alg"] = a
	}
	pad := func(b []byte, n int) []byte { return append(make([]byte, n-len(b)), b...) }
	switch p := k.pub.(type) {
	case nil:
		jwk["kty"], jwk["k"] = "oct", enc(k.secret)
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		raw, _ := p.Bytes()
		jwk["kty"], jwk["crv"], jwk["x"], jwk["y"] = "EC", k.curve, enc(raw[1:1+size]), enc(raw[1+size:])
		if sk, ok := k.priv.(*ecdsa.PrivateKey); ok {
			d, _ := sk.Bytes()
			jwk["d"] = enc(pad(d, size))
		}
		if k.alg == "ECDSA" {
			jwk["alg"] = ecdsaJWKAlg[k.curve]
		}
	case ed25519.PublicKey:
		jwk["kty"], jwk["crv"], jwk["x"] = "OKP", "Ed25519", enc(p)
		if sk, ok := k.priv.(ed25519.PrivateKey); ok {
			jwk["d"] = enc(sk.Seed())
		}
	case *ecdh.PublicKey:
		jwk["kty"], jwk["crv"], jwk["x"] = "OKP", "X25519", enc(p.Bytes())
		if sk, ok := k.priv.(*ecdh.PrivateKey); ok {
			jwk["d"] = enc(sk.Bytes())
		}
	case ed448.PublicKey, *x448Public:
		jwk["kty"], jwk["crv"], jwk["x"] = "OKP", k.alg, enc(public448Bytes(p))
		if k.priv != nil {
			jwk["d"] = enc(private448Bytes(k.priv))
		}
	case *rsa.PublicKey:
		jwk["kty"], jwk["n"], jwk["e"] = "RSA", enc(p.N.Bytes()), enc(big.NewInt(int64(p.E)).Bytes())
		if sk, ok := k.priv.(*rsa.PrivateKey); ok {
			if len(sk.Primes) != 2 {
				return nil, cryptoError("NotSupportedError", "multi-prime RSA keys cannot be exported as JWK")
			}
			sk.Precompute()
			jwk["d"], jwk["p"], jwk["q"] = enc(sk.D.Bytes()), enc(sk.Primes[0].Bytes()), enc(sk.Primes[1].Bytes())
			jwk["dp"], jwk["dq"], jwk["qi"] = enc(sk.Precomputed.Dp.Bytes()), enc(sk.Precomputed.Dq.Bytes()), enc(sk.Precomputed.Qinv.Bytes())
		}
	}
	return jwk, nil
}
