package engine

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// fuzzAlgs are the algorithms FuzzImportKey picks from, with usages every key type allows.
var fuzzAlgs = []algParams{
	{Name: "HMAC", Hash: "SHA-256"}, {Name: "AES-GCM"}, {Name: "AES-KW"}, {Name: "HKDF"},
	{Name: "ECDSA", NamedCurve: "P-256"}, {Name: "ECDH", NamedCurve: "P-384"}, {Name: "Ed25519"}, {Name: "X25519"},
	{Name: "RSA-PSS", Hash: "SHA-256"}, {Name: "RSA-OAEP", Hash: "SHA-1"}, {Name: "Ed448"}, {Name: "X448"},
}

// FuzzImportKey feeds the host's key parser arbitrary key data in every format: it must
// answer a typed DOMException error (DataError, NotSupportedError, ...) or a key that
// round-trips (exported and imported again, it exports the same bytes). Never a panic.
func FuzzImportKey(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	spki, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(ed)
	f.Add(uint8(4), uint8(1), pkcs8)
	f.Add(uint8(4), uint8(2), spki)
	f.Add(uint8(4), uint8(0), append([]byte{4}, make([]byte, 64)...))
	f.Add(uint8(6), uint8(1), edPKCS8)
	ed448Priv, ed448Pub := generate448("Ed448")
	ed448PKCS8, _ := marshal448("Ed448", "pkcs8", ed448Priv, nil)
	ed448SPKI, _ := marshal448("Ed448", "spki", nil, ed448Pub)
	x448Priv, x448Pub := generate448("X448")
	x448PKCS8, _ := marshal448("X448", "pkcs8", x448Priv, nil)
	f.Add(uint8(10), uint8(1), ed448PKCS8)
	f.Add(uint8(10), uint8(2), ed448SPKI)
	f.Add(uint8(11), uint8(1), x448PKCS8)
	f.Add(uint8(11), uint8(0), public448Bytes(x448Pub))
	f.Add(uint8(10), uint8(3), []byte(`{"kty":"OKP","crv":"Ed448","x":"AAAA","d":"AA"}`))
	f.Add(uint8(0), uint8(0), []byte("secret"))
	f.Add(uint8(1), uint8(0), make([]byte, 16))
	f.Add(uint8(0), uint8(3), []byte(`{"kty":"oct","k":"c2VjcmV0"}`))
	f.Add(uint8(4), uint8(3), []byte(`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","d":"AA"}`))
	f.Add(uint8(8), uint8(3), []byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQ","p":"Aw","q":"BQ","dp":"AQ","dq":"AQ"}`))
	f.Fuzz(func(t *testing.T, algIndex, formatIndex uint8, data []byte) {
		alg := fuzzAlgs[int(algIndex)%len(fuzzAlgs)]
		format := []string{"raw", "pkcs8", "spki", "jwk"}[formatIndex%4]
		var payload []byte
		if format == "jwk" {
			if !json.Valid(data) {
				return
			}
			payload = data
		} else {
			payload, _ = json.Marshal(b64(data))
		}
		usages := []string{}
		if u := keyUsages[alg.Name]; u[0] != nil {
			usages = u[0][:1]
		} else if format == "pkcs8" || (format == "jwk" && bytes.Contains(data, []byte(`"d"`))) {
			usages = u[1][:1]
		}
		extractable := alg.Name != "HKDF"
		k, err := importKey(format, &alg, payload, extractable, usages)
		if err != nil {
			var he *hostError
			if !errors.As(err, &he) || !slices.Contains([]string{"DataError", "NotSupportedError", "SyntaxError", "TypeError"}, he.name) {
				t.Fatalf("import %s %s: untyped error %v", alg.Name, format, err)
			}
			return
		}
		if !extractable || (format == "jwk" && k.typ == "secret") {
			return
		}
		out, err := k.export(map[string]string{"secret": "raw", "private": "pkcs8", "public": "spki"}[k.typ])
		if err != nil {
			t.Fatalf("export of an imported %s %s key: %v", alg.Name, k.typ, err)
		}
		f2 := map[string]string{"secret": "raw", "private": "pkcs8", "public": "spki"}[k.typ]
		again, _ := json.Marshal(b64(out))
		k2, err := importKey(f2, &alg, again, true, k.usages)
		if err != nil {
			t.Fatalf("re-import of an exported %s key: %v", alg.Name, err)
		}
		out2, _ := k2.export(f2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("%s key does not round-trip", alg.Name)
		}
		if _, err := k.exportJWK(); err != nil {
			t.Fatalf("JWK export of an imported %s key: %v", alg.Name, err)
		}
	})
}
