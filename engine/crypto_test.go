package engine_test

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// cryptoPrelude gives the snippets hex helpers (results cross as hex strings).
const cryptoPrelude = `const hex = (b) => new Uint8Array(b).toHex(); const unhex = (s) => Uint8Array.fromHex(s);
const utf8 = (s) => new TextEncoder().encode(s); const S = crypto.subtle;
const fails = async (p) => { try { await p; return "resolved"; } catch (e) { return e.constructor.name + ":" + e.name; } };
`

// cryptoEval runs an async snippet (the body of an async function) in sb and decodes its
// JSON value into v.
func cryptoEval(t *testing.T, sb *engine.Sandbox, body string, v any) {
	t.Helper()
	res, err := sb.Eval(context.Background(), engine.Limits{CPU: 20 * time.Second}, "await (async () => {"+cryptoPrelude+body+"})()")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, body)
	}
	if err := json.Unmarshal(res.Value, v); err != nil {
		t.Fatalf("result %s: %v", res.Value, err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// HMAC against RFC 4231's test cases 1 and 2, and against Go's crypto/hmac both ways.
func TestCryptoHMAC(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	vectors := []struct{ key, data, hash, want string }{
		{strings.Repeat("0b", 20), hex.EncodeToString([]byte("Hi There")), "SHA-256",
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{hex.EncodeToString([]byte("Jefe")), hex.EncodeToString([]byte("what do ya want for nothing?")), "SHA-256",
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{hex.EncodeToString([]byte("Jefe")), hex.EncodeToString([]byte("what do ya want for nothing?")), "SHA-512",
			"164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
	}
	for _, v := range vectors {
		var got string
		cryptoEval(t, sb, fmt.Sprintf(`const k = await S.importKey("raw", unhex(%q), {name: "HMAC", hash: %q}, false, ["sign"]);
			return hex(await S.sign("HMAC", k, unhex(%q)));`, v.key, v.hash, v.data), &got)
		if got != v.want {
			t.Errorf("HMAC-%s = %s, want %s", v.hash, got, v.want)
		}
	}

	// A generated key, exported as a JWK: Go verifies the JS signature with the JWK's k,
	// and JS verifies Go's; a flipped bit fails.
	var out struct{ K, Sig, Alg, Flipped string }
	cryptoEval(t, sb, `const k = await S.generateKey({name: "HMAC", hash: "SHA-384"}, true, ["sign", "verify"]);
		const jwk = await S.exportKey("jwk", k);
		const sig = new Uint8Array(await S.sign("HMAC", k, utf8("payload")));
		sig[0] ^= 1;
		return {k: jwk.k, alg: jwk.alg, sig: hex(await S.sign("HMAC", k, utf8("payload"))), flipped: String(await S.verify("HMAC", k, sig, utf8("payload")))};`, &out)
	key, err := base64URL(out.K)
	if err != nil || len(key) != 128 {
		t.Fatalf("jwk.k = %q (%d bytes, want the SHA-384 block size 128): %v", out.K, len(key), err)
	}
	m := hmac.New(crypto.SHA384.New, key)
	m.Write([]byte("payload"))
	if hex.EncodeToString(m.Sum(nil)) != out.Sig || out.Alg != "HS384" || out.Flipped != "false" {
		t.Fatalf("JS HMAC-SHA-384 %s (alg %s, flipped verifies: %s) does not match Go's %x", out.Sig, out.Alg, out.Flipped, m.Sum(nil))
	}

	goKey := []byte("webhook secret")
	m = hmac.New(sha256.New, goKey)
	m.Write([]byte(`{"event":"push"}`))
	var ok bool
	cryptoEval(t, sb, fmt.Sprintf(`const k = await S.importKey("jwk", {kty: "oct", k: %q, alg: "HS256"}, {name: "hmac", hash: {name: "sha-256"}}, false, ["verify"]);
		return await S.verify("HMAC", k, unhex(%q), utf8('{"event":"push"}'));`,
		base64URLEncode(goKey), hex.EncodeToString(m.Sum(nil))), &ok)
	if !ok {
		t.Fatal("JS did not verify Go's HMAC-SHA-256 signature")
	}
}

// Keys are used only as their usages and extractability allow; bad input is the spec's
// DOMException, never a crash.
func TestCryptoKeyRules(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var got map[string]string
	cryptoEval(t, sb, `const k = await S.importKey("raw", utf8("secret"), {name: "HMAC", hash: "SHA-256"}, false, ["verify"]);
		const r = {};
		r.signWithVerifyKey = await fails(S.sign("HMAC", k, utf8("x")));
		r.exportNonExtractable = await fails(S.exportKey("raw", k));
		r.wrapNonExtractable = await fails((async () => S.wrapKey("raw", k, await S.generateKey({name: "AES-KW", length: 128}, false, ["wrapKey"]), "AES-KW"))());
		r.badUsage = await fails(S.importKey("raw", utf8("secret"), {name: "HMAC", hash: "SHA-256"}, false, ["encrypt"]));
		r.noUsage = await fails(S.importKey("raw", utf8("secret"), {name: "HMAC", hash: "SHA-256"}, false, []));
		r.unknownAlg = await fails(S.importKey("raw", utf8("secret"), "ROT13", false, ["sign"]));
		r.badSpki = await fails(S.importKey("spki", new Uint8Array([48, 3, 1, 2, 3]), {name: "ECDSA", namedCurve: "P-256"}, true, ["verify"]));
		r.badJwk = await fails(S.importKey("jwk", {kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA"}, {name: "ECDSA", namedCurve: "P-256"}, true, ["verify"]));
		r.aesBadLength = await fails(S.importKey("raw", new Uint8Array(15), "AES-GCM", true, ["encrypt"]));
		r.wrongAlg = await fails((async () => S.encrypt({name: "AES-CBC", iv: new Uint8Array(16)}, await S.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["encrypt"]), utf8("x")))());
		r.gcmTamper = await fails((async () => { const a = await S.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["encrypt", "decrypt"]);
			const c = new Uint8Array(await S.encrypt({name: "AES-GCM", iv: new Uint8Array(12)}, a, utf8("x"))); c[0] ^= 1;
			return S.decrypt({name: "AES-GCM", iv: new Uint8Array(12)}, a, c); })());
		r.syncThrowIsRejection = String(S.sign() instanceof Promise);
		r.usagesFrozen = String(Object.isFrozen(k.usages)) + " " + k.usages.join() + " " + k.type + " " + k.algorithm.hash.name;
		r.noConstructor = await fails((async () => new CryptoKey())());
		r.hkdfJwk = await fails(S.importKey("jwk", {kty: "oct", k: "AAAA"}, "HKDF", false, ["deriveBits"]));
		r.ecdsaNoHash = await fails((async () => S.sign({name: "ECDSA"}, (await S.generateKey({name: "ECDSA", namedCurve: "P-256"}, false, ["sign"])).privateKey, utf8("x")))());
		return r;`, &got)
	want := map[string]string{
		"signWithVerifyKey":    "DOMException:InvalidAccessError",
		"exportNonExtractable": "DOMException:InvalidAccessError",
		"wrapNonExtractable":   "DOMException:InvalidAccessError",
		"badUsage":             "DOMException:SyntaxError",
		"noUsage":              "DOMException:SyntaxError",
		"unknownAlg":           "DOMException:NotSupportedError",
		"badSpki":              "DOMException:DataError",
		"badJwk":               "DOMException:DataError",
		"aesBadLength":         "DOMException:DataError",
		"wrongAlg":             "DOMException:InvalidAccessError",
		"gcmTamper":            "DOMException:OperationError",
		"syncThrowIsRejection": "true",
		"usagesFrozen":         "true verify secret SHA-256",
		"noConstructor":        "TypeError:TypeError",
		"hkdfJwk":              "DOMException:NotSupportedError",
		"ecdsaNoHash":          "TypeError:TypeError",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
}

// AES-GCM (the GCM specification's test case 3, then additionalData against Go), AES-CBC
// and AES-CTR against Go's cipher modes, AES-KW against RFC 3394 §4.1.
func TestCryptoAES(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var ct string
	cryptoEval(t, sb, `const k = await S.importKey("raw", unhex("feffe9928665731c6d6a8f9467308308"), "AES-GCM", false, ["encrypt"]);
		return hex(await S.encrypt({name: "AES-GCM", iv: unhex("cafebabefacedbaddecaf888")}, k,
			unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")));`, &ct)
	if want := "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985" +
		"4d5c2af327cd64a62cf35abd2ba6fab4"; ct != want {
		t.Fatalf("AES-GCM test case 3 = %s, want %s", ct, want)
	}

	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	iv := make([]byte, 16)
	rand.Read(iv)
	msg := []byte("attack at dawn, or a little later than that")
	var r struct{ GCM, CBC, CTR, RoundTrip, ShortTag string }
	cryptoEval(t, sb, fmt.Sprintf(`const raw = unhex(%q), iv = unhex(%q), msg = unhex(%q);
		const g = await S.importKey("raw", raw, {name: "AES-GCM"}, false, ["encrypt", "decrypt"]);
		const c = await S.importKey("raw", raw, "AES-CBC", false, ["encrypt", "decrypt"]);
		const t = await S.importKey("raw", raw, "AES-CTR", false, ["encrypt", "decrypt"]);
		const gp = {name: "AES-GCM", iv: iv.subarray(0, 12), additionalData: utf8("header")};
		const gct = await S.encrypt(gp, g, msg);
		const cct = await S.encrypt({name: "AES-CBC", iv}, c, msg);
		const tct = await S.encrypt({name: "AES-CTR", counter: iv, length: 64}, t, msg);
		const back = [await S.decrypt(gp, g, gct), await S.decrypt({name: "AES-CBC", iv}, c, cct), await S.decrypt({name: "AES-CTR", counter: iv, length: 64}, t, tct)];
		const short = await S.encrypt({...gp, tagLength: 96}, g, msg);
		return {gcm: hex(gct), cbc: hex(cct), ctr: hex(tct), roundTrip: back.map(hex).join(","),
			shortTag: hex(await S.decrypt({...gp, tagLength: 96}, g, short)) === hex(msg) ? String(short.byteLength - msg.length) : "bad"};`,
		hex.EncodeToString(key), hex.EncodeToString(iv), hex.EncodeToString(msg)), &r)
	gcm, _ := cipher.NewGCM(block)
	if want := hex.EncodeToString(gcm.Seal(nil, iv[:12], msg, []byte("header"))); r.GCM != want {
		t.Errorf("AES-GCM with additionalData = %s, Go: %s", r.GCM, want)
	}
	padded := append(append([]byte(nil), msg...), make([]byte, 16-len(msg)%16)...)
	for i := len(msg); i < len(padded); i++ {
		padded[i] = byte(len(padded) - len(msg))
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(padded, padded)
	if r.CBC != hex.EncodeToString(padded) {
		t.Errorf("AES-CBC = %s, Go: %x", r.CBC, padded)
	}
	ctr := make([]byte, len(msg))
	cipher.NewCTR(block, iv).XORKeyStream(ctr, msg) // the same while the low 64 bits do not wrap
	if r.CTR != hex.EncodeToString(ctr) {
		t.Errorf("AES-CTR = %s, Go: %x", r.CTR, ctr)
	}
	m := hex.EncodeToString(msg)
	if r.RoundTrip != m+","+m+","+m || r.ShortTag != "12" {
		t.Errorf("decrypt round trips %s (short tag: %s)", r.RoundTrip, r.ShortTag)
	}

	// RFC 3394 §4.1: 128 bits of key data wrapped with a 128-bit KEK; then unwrapKey gives
	// back a usable key.
	var kw struct{ Wrapped, Unwrapped string }
	cryptoEval(t, sb, `const kek = await S.importKey("raw", unhex("000102030405060708090A0B0C0D0E0F"), "AES-KW", false, ["wrapKey", "unwrapKey"]);
		const k = await S.importKey("raw", unhex("00112233445566778899AABBCCDDEEFF"), "AES-GCM", true, ["encrypt"]);
		const w = await S.wrapKey("raw", k, kek, "AES-KW");
		const u = await S.unwrapKey("raw", w, kek, "AES-KW", "AES-GCM", true, ["encrypt"]);
		return {wrapped: hex(w), unwrapped: hex(await S.exportKey("raw", u))};`, &kw)
	if kw.Wrapped != "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5" || kw.Unwrapped != "00112233445566778899aabbccddeeff" {
		t.Errorf("AES-KW wrap = %s, unwrap = %s", kw.Wrapped, kw.Unwrapped)
	}
}

// p1363 converts an ASN.1 ECDSA signature to WebCrypto's r||s.
func p1363(t *testing.T, der []byte, size int) []byte {
	t.Helper()
	var sig struct{ R, S *big.Int }
	if _, err := asn1Unmarshal(der, &sig); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out
}

// ECDSA both ways on each curve (P1363 signatures), JWK round trips, and ECDH agreeing
// with Go's crypto/ecdh.
func TestCryptoEC(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	for _, c := range []struct {
		curve string
		ec    elliptic.Curve
		hash  crypto.Hash
		hname string
	}{{"P-256", elliptic.P256(), crypto.SHA256, "SHA-256"}, {"P-384", elliptic.P384(), crypto.SHA384, "SHA-384"}, {"P-521", elliptic.P521(), crypto.SHA512, "SHA-512"}} {
		t.Run(c.curve, func(t *testing.T) {
			sk, _ := ecdsa.GenerateKey(c.ec, rand.Reader)
			pkcs8, _ := x509.MarshalPKCS8PrivateKey(sk)
			spki, _ := x509.MarshalPKIXPublicKey(&sk.PublicKey)
			size := (c.ec.Params().BitSize + 7) / 8
			h := c.hash.New()
			h.Write([]byte("message"))
			der, _ := ecdsa.SignASN1(rand.Reader, sk, h.Sum(nil))
			var r struct{ Sig, GoVerified, JWKSig, Shared, Peer string }
			cryptoEval(t, sb, fmt.Sprintf(`const alg = {name: "ECDSA", namedCurve: %[1]q}, sa = {name: "ECDSA", hash: %[2]q};
				const priv = await S.importKey("pkcs8", unhex(%[3]q), alg, true, ["sign"]);
				const pub = await S.importKey("spki", unhex(%[4]q), alg, true, ["verify"]);
				const jwk = await S.exportKey("jwk", priv);
				const again = await S.importKey("jwk", jwk, alg, false, ["sign"]);
				const rawPub = await S.importKey("raw", await S.exportKey("raw", pub), alg, true, ["verify"]);
				const e1 = await S.generateKey({name: "ECDH", namedCurve: %[1]q}, true, ["deriveBits"]);
				const peer = await S.importKey("spki", unhex(%[4]q), {name: "ECDH", namedCurve: %[1]q}, true, []);
				return {sig: hex(await S.sign(sa, priv, utf8("message"))),
					goVerified: String(await S.verify(sa, pub, unhex(%[5]q), utf8("message"))) + String(await S.verify(sa, rawPub, unhex(%[5]q), utf8("message"))),
					jwkSig: hex(await S.sign(sa, again, utf8("message"))),
					shared: hex(await S.deriveBits({name: "ECDH", public: peer}, e1.privateKey)),
					peer: hex(await S.exportKey("spki", e1.publicKey))};`,
				c.curve, c.hname, hex.EncodeToString(pkcs8), hex.EncodeToString(spki), hex.EncodeToString(p1363(t, der, size))), &r)
			if r.GoVerified != "truetrue" {
				t.Errorf("JS did not verify Go's P1363 signature: %s", r.GoVerified)
			}
			for _, s := range []string{r.Sig, r.JWKSig} {
				b := unhex(t, s)
				if len(b) != 2*size {
					t.Fatalf("signature is %d bytes, want r||s of %d", len(b), 2*size)
				}
				if !ecdsa.Verify(&sk.PublicKey, h.Sum(nil), new(big.Int).SetBytes(b[:size]), new(big.Int).SetBytes(b[size:])) {
					t.Errorf("Go does not verify the JS signature %s", s)
				}
			}
			pp, err := x509.ParsePKIXPublicKey(unhex(t, r.Peer))
			if err != nil {
				t.Fatal(err)
			}
			ek, _ := sk.ECDH()
			epub, _ := pp.(*ecdsa.PublicKey).ECDH()
			want, _ := ek.ECDH(epub)
			if r.Shared != hex.EncodeToString(want) {
				t.Errorf("ECDH secret %s, Go: %x", r.Shared, want)
			}
		})
	}
}

// Ed25519 and X25519 against Go, with raw, pkcs8, spki and jwk formats.
func TestCryptoCurve25519(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	var r struct{ Sig, Verified, Pub, XPub, Shared, JWKX string }
	cryptoEval(t, sb, fmt.Sprintf(`const k = await S.importKey("pkcs8", unhex(%q), "Ed25519", true, ["sign"]);
		const p = await S.importKey("raw", unhex(%q), {name: "Ed25519"}, true, ["verify"]);
		const x = await S.generateKey("X25519", true, ["deriveBits"]);
		const peer = await S.importKey("raw", unhex(%q), "X25519", true, []);
		const jwk = await S.exportKey("jwk", k);
		return {sig: hex(await S.sign("Ed25519", k, utf8("hello"))), verified: String(await S.verify("Ed25519", p, unhex(%q), utf8("hi"))),
			pub: hex(await S.exportKey("spki", p)), xPub: hex(await S.exportKey("raw", x.publicKey)),
			shared: hex(await S.deriveBits({name: "X25519", public: peer}, x.privateKey, 256)), jwkX: jwk.x + " " + jwk.crv};`,
		hex.EncodeToString(pkcs8), hex.EncodeToString(pub), hex.EncodeToString(xk.PublicKey().Bytes()),
		hex.EncodeToString(ed25519.Sign(priv, []byte("hi")))), &r)
	if !ed25519.Verify(pub, []byte("hello"), unhex(t, r.Sig)) || r.Verified != "true" {
		t.Errorf("Ed25519: Go verifies JS: %v; JS verifies Go: %s", ed25519.Verify(pub, []byte("hello"), unhex(t, r.Sig)), r.Verified)
	}
	if spki, _ := x509.MarshalPKIXPublicKey(pub); r.Pub != hex.EncodeToString(spki) || r.JWKX != base64URLEncode(pub)+" Ed25519" {
		t.Errorf("Ed25519 spki %s / jwk %s", r.Pub, r.JWKX)
	}
	peer, _ := ecdh.X25519().NewPublicKey(unhex(t, r.XPub))
	want, _ := xk.ECDH(peer)
	if r.Shared != hex.EncodeToString(want) {
		t.Errorf("X25519 secret %s, Go: %x", r.Shared, want)
	}
}

// HKDF against RFC 5869 test case 1, PBKDF2 against RFC 6070, and deriveKey into an AES key.
func TestCryptoKDF(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var r struct{ HKDF, P1, P2, P4096, AES, HKDFUsage string }
	cryptoEval(t, sb, `const h = await S.importKey("raw", unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), "HKDF", false, ["deriveBits", "deriveKey"]);
		const p = await S.importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits", "deriveKey"]);
		const pb = (c) => S.deriveBits({name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations: c}, p, 160);
		const aes = await S.deriveKey({name: "PBKDF2", hash: "SHA-256", salt: utf8("salt"), iterations: 1000}, p, {name: "AES-GCM", length: 256}, true, ["encrypt"]);
		const onlyBits = await S.importKey("raw", utf8("k"), "HKDF", false, ["deriveBits"]);
		return {hkdf: hex(await S.deriveBits({name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9")}, h, 336)),
			p1: hex(await pb(1)), p2: hex(await pb(2)), p4096: hex(await pb(4096)),
			aes: aes.algorithm.name + aes.algorithm.length + ":" + hex(await S.exportKey("raw", aes)),
			hkdfUsage: await fails(S.deriveKey({name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: new Uint8Array()}, onlyBits, {name: "AES-GCM", length: 128}, true, ["encrypt"]))};`, &r)
	if r.HKDF != "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865" {
		t.Errorf("HKDF = %s", r.HKDF)
	}
	if r.P1 != "0c60c80f961f0e71f3a9b524af6012062fe037a6" || r.P2 != "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957" || r.P4096 != "4b007901b765489abead49d926f721d065a429c1" {
		t.Errorf("PBKDF2 = %s %s %s", r.P1, r.P2, r.P4096)
	}
	if !strings.HasPrefix(r.AES, "AES-GCM256:") || len(r.AES) != len("AES-GCM256:")+64 {
		t.Errorf("deriveKey = %s", r.AES)
	}
	if r.HKDFUsage != "DOMException:InvalidAccessError" {
		t.Errorf("deriveKey with a deriveBits-only key: %s", r.HKDFUsage)
	}
}

// RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP against Go's crypto/rsa, both ways.
func TestCryptoRSA(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	sk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(sk)
	spki, _ := x509.MarshalPKIXPublicKey(&sk.PublicKey)
	digest := sha256.Sum256([]byte("msg"))
	goPSS, _ := rsa.SignPSS(rand.Reader, sk, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: 32})
	oaep, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &sk.PublicKey, []byte("secret"), nil)
	var r struct{ V15, PSS, GoPSS, OAEP, JWK, Gen string }
	cryptoEval(t, sb, fmt.Sprintf(`const a = (name) => ({name, hash: "SHA-256"});
		const v15 = await S.importKey("pkcs8", unhex(%[1]q), a("RSASSA-PKCS1-v1_5"), true, ["sign"]);
		const pss = await S.importKey("pkcs8", unhex(%[1]q), a("RSA-PSS"), false, ["sign"]);
		const pssPub = await S.importKey("spki", unhex(%[2]q), a("RSA-PSS"), true, ["verify"]);
		const oaep = await S.importKey("pkcs8", unhex(%[1]q), a("RSA-OAEP"), false, ["decrypt"]);
		const jwk = await S.exportKey("jwk", v15);
		const back = await S.importKey("jwk", jwk, a("RSASSA-PKCS1-v1_5"), true, ["sign"]);
		const gen = await S.generateKey({name: "RSA-OAEP", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256"}, false, ["encrypt", "decrypt"]);
		const ct = await S.encrypt({name: "RSA-OAEP", label: utf8("l")}, gen.publicKey, utf8("round"));
		return {v15: hex(await S.sign("RSASSA-PKCS1-v1_5", v15, utf8("msg"))), pss: hex(await S.sign({name: "RSA-PSS", saltLength: 32}, pss, utf8("msg"))),
			goPSS: String(await S.verify({name: "RSA-PSS", saltLength: 32}, pssPub, unhex(%[3]q), utf8("msg"))),
			oaep: new TextDecoder().decode(await S.decrypt({name: "RSA-OAEP"}, oaep, unhex(%[4]q))),
			jwk: jwk.kty + jwk.alg + (hex(await S.sign("RSASSA-PKCS1-v1_5", back, utf8("msg"))) === hex(await S.sign("RSASSA-PKCS1-v1_5", v15, utf8("msg")))),
			gen: gen.publicKey.algorithm.modulusLength + hex(gen.publicKey.algorithm.publicExponent) + gen.privateKey.usages.join() +
				new TextDecoder().decode(await S.decrypt({name: "RSA-OAEP", label: utf8("l")}, gen.privateKey, ct))};`,
		hex.EncodeToString(pkcs8), hex.EncodeToString(spki), hex.EncodeToString(goPSS), hex.EncodeToString(oaep)), &r)
	if rsa.VerifyPKCS1v15(&sk.PublicKey, crypto.SHA256, digest[:], unhex(t, r.V15)) != nil {
		t.Error("Go does not verify the JS RSASSA-PKCS1-v1_5 signature")
	}
	if rsa.VerifyPSS(&sk.PublicKey, crypto.SHA256, digest[:], unhex(t, r.PSS), &rsa.PSSOptions{SaltLength: 32}) != nil {
		t.Error("Go does not verify the JS RSA-PSS signature")
	}
	if r.GoPSS != "true" || r.OAEP != "secret" || r.JWK != "RSARS256true" || r.Gen != "1024010001decryptround" {
		t.Errorf("goPSS %s, oaep %q, jwk %s, gen %s", r.GoPSS, r.OAEP, r.JWK, r.Gen)
	}
}

// Work a tenant can ask of the host is bounded by the invocation's CPU limit: a loop of RSA
// key generations and a huge PBKDF2 stop with cpu_limit_exceeded, and promptly — each within
// 20 times the cost of one unit of the same work measured in the same run (one key
// generation; a PBKDF2 of 1/100 of the iterations), where ops that did not check the limits
// themselves ran on for ~100 units (QuickJS polls only every few thousand bytecodes). A
// modulus over 4096 bits is refused.
func TestCryptoHostileWork(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	const (
		keygen = `await crypto.subtle.generateKey({name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256"}, false, ["sign"])`
		pbkdf2 = `{ const p = await crypto.subtle.importKey("raw", new Uint8Array(8), "PBKDF2", false, ["deriveBits"]); await crypto.subtle.deriveBits({name: "PBKDF2", hash: "SHA-512", salt: new Uint8Array(8), iterations: %d}, p, 512) }`
	)
	// unit is the median cost of one unit of work, run to its end under a generous limit.
	unit := func(code string) time.Duration {
		var ds []time.Duration
		for range 3 {
			start := time.Now()
			if _, err := sb.Eval(context.Background(), engine.Limits{CPU: time.Minute, Wall: 5 * time.Minute}, code); err != nil {
				t.Fatalf("one unit of work: %v", err)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[1]
	}
	for _, tc := range []struct{ name, loop, unit string }{
		{"rsa keygen loop", `for (;;) ` + keygen, keygen},
		{"pbkdf2", fmt.Sprintf(pbkdf2, 10_000_000), fmt.Sprintf(pbkdf2, 100_000)},
	} {
		u := unit(tc.unit)
		start := time.Now()
		_, err := sb.Eval(context.Background(), engine.Limits{CPU: 100 * time.Millisecond, Wall: 10 * time.Minute}, tc.loop)
		d := time.Since(start)
		if isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
			t.Errorf("%s: %v, want cpu_limit_exceeded", tc.name, err)
		}
		t.Logf("%s: stopped after %v; one unit %v", tc.name, d, u)
		if limit := 20 * max(u, 100*time.Millisecond); d > limit {
			t.Errorf("%s stopped only after %v, over 20 units of its work (%v each) in this run", tc.name, d, u)
		}
		sb = newSandbox(t, engine.SandboxConfig{})
	}
	var got string
	cryptoEval(t, sb, `return await fails(S.generateKey({name: "RSA-PSS", modulusLength: 8192, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256"}, false, ["sign"]));`, &got)
	if got != "DOMException:OperationError" {
		t.Errorf("RSA-8192 keygen: %s", got)
	}
}

// The key table is bounded, and dropped CryptoKeys free their entries: importing far more
// keys than the bound, one at a time, works; holding them hits QuotaExceededError.
func TestCryptoKeyTableBound(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var r struct{ Dropped, Held string }
	cryptoEval(t, sb, `let n = 0;
		for (let i = 0; i < 10000; i++) { await S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]); n++; }
		const held = [];
		const e = await fails((async () => { for (;;) held.push(await S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"])); })());
		return {dropped: String(n), held: e + " after " + held.length};`, &r)
	if r.Dropped != "10000" || !strings.HasPrefix(r.Held, "DOMException:QuotaExceededError after ") {
		t.Fatalf("dropped %s, held %s", r.Dropped, r.Held)
	}
}

// A key kept in a global survives Fork, Snapshot/Restore and hibernation (Marshal,
// UnmarshalImage): the key table goes with the sandbox's state.
func TestCryptoKeysSurviveSnapshots(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var ignored any
	cryptoEval(t, sb, `globalThis.k = await S.importKey("raw", utf8("kept"), {name: "HMAC", hash: "SHA-256"}, false, ["sign"]); return 1;`, &ignored)
	m := hmac.New(sha256.New, []byte("kept"))
	m.Write([]byte("x"))
	want := hex.EncodeToString(m.Sum(nil))
	child, err := sb.Fork(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(context.Background())
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := testEngine.Restore(context.Background(), img, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close(context.Background())
	blob, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := testEngine.UnmarshalImage(blob)
	if err != nil {
		t.Fatal(err)
	}
	woken, err := testEngine.Restore(context.Background(), back, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer woken.Close(context.Background())
	for name, s := range map[string]*engine.Sandbox{"fork": child, "restore": restored, "hibernation": woken} {
		var got string
		cryptoEval(t, s, `return hex(await S.sign("HMAC", globalThis.k, utf8("x")));`, &got)
		if got != want {
			t.Errorf("%s: signature %s, want %s", name, got, want)
		}
	}
}

// timingSafeEqual compares buffers and refuses different lengths.
func TestCryptoTimingSafeEqual(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var got string
	cryptoEval(t, sb, `let diff; try { S.timingSafeEqual(new Uint8Array(1), new Uint8Array(2)); } catch (e) { diff = e.name; }
		return [S.timingSafeEqual(utf8("abc"), utf8("abc")), S.timingSafeEqual(utf8("abc").buffer, utf8("abd")), diff].join();`, &got)
	if got != "true,false,TypeError" {
		t.Fatalf("timingSafeEqual: %s", got)
	}
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func base64URLEncode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func asn1Unmarshal(b []byte, v any) ([]byte, error) { return asn1.Unmarshal(b, v) }

// A tenant that replaces the builtins the runtime could use (Uint8Array, TextDecoder,
// JSON, toBase64, instanceof hooks, getters on Object.prototype) sees no byte of a
// non-extractable key that was unwrapped or derived, and crypto.subtle still works.
func TestCryptoKeyBytesStayHidden(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var r struct {
		Seen   []string
		Sigs   []string
		Export string
	}
	cryptoEval(t, sb, `const seen = [];
		const kek = await S.importKey("raw", new Uint8Array(16), "AES-KW", false, ["wrapKey", "unwrapKey"]);
		const gcm = await S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["wrapKey", "unwrapKey"]);
		const inner = await S.importKey("raw", utf8("0123456789abcdef"), {name: "HMAC", hash: "SHA-256"}, true, ["sign"]);
		const wrappedJwk = await S.wrapKey("jwk", inner, gcm, {name: "AES-GCM", iv: new Uint8Array(12)});
		const wrapped = await S.wrapKey("raw", inner, kek, "AES-KW");
		const pb = await S.importKey("raw", utf8("pw"), "PBKDF2", false, ["deriveKey"]);
		const msg = utf8("x");
		const Real = {U8: Uint8Array, stringify: JSON.stringify, parse: JSON.parse, TD: TextDecoder, toBase64: Uint8Array.prototype.toBase64,
			set: Uint8Array.prototype.set, slice: Uint8Array.prototype.slice, toHex: Uint8Array.prototype.toHex};
		const show = (v) => { try { return typeof v === "string" ? v : ArrayBuffer.isView(v) ? Reflect.apply(Real.toHex, new Real.U8(v.buffer, v.byteOffset, v.byteLength), [])
			: Object.prototype.toString.call(v) === "[object ArrayBuffer]" ? Reflect.apply(Real.toHex, new Real.U8(v), []) : String(Real.stringify(v)); } catch { return "?"; } };
		const spy = (name, f) => function (...a) { seen.push(name + ":" + a.map(show).join(",") + ":" + show(this)); return Reflect.apply(f, this, a); };
		globalThis.Uint8Array = new Proxy(Real.U8, { construct(T, a) { seen.push("Uint8Array:" + a.map(show).join(",")); return new T(...a); } });
		Real.U8.prototype.toBase64 = spy("toBase64", Real.toBase64);
		Real.U8.prototype.set = spy("set", Real.set);
		Real.U8.prototype.slice = spy("slice", Real.slice);
		JSON.stringify = spy("stringify", Real.stringify);
		JSON.parse = spy("parse", Real.parse);
		globalThis.TextDecoder = class extends Real.TD { decode(b) { seen.push("TextDecoder:" + show(b)); return super.decode(b); } };
		Object.defineProperty(ArrayBuffer, Symbol.hasInstance, { value: (v) => { seen.push("hasInstance:" + show(v)); return false; }, configurable: true });
		const props = ["k", "ext", "key_ops", "d", "alg", "use", "kty"];
		for (const m of props) Object.defineProperty(Object.prototype, m, { get() { seen.push("getter " + m + ":" + show(this)); }, configurable: true });
		const keys = [
			await S.unwrapKey("raw", wrapped, kek, "AES-KW", {name: "HMAC", hash: "SHA-256"}, false, ["sign"]),
			await S.unwrapKey("jwk", wrappedJwk, gcm, {name: "AES-GCM", iv: new Real.U8(12)}, {name: "HMAC", hash: "SHA-256"}, false, ["sign"]),
			await S.deriveKey({name: "PBKDF2", hash: "SHA-256", salt: new Real.U8(4), iterations: 2}, pb, {name: "HMAC", hash: "SHA-256", length: 256}, false, ["sign"]),
		];
		for (const m of props) delete Object.prototype[m];
		Object.assign(JSON, {stringify: Real.stringify, parse: Real.parse});
		Object.assign(Real.U8.prototype, {toBase64: Real.toBase64, set: Real.set, slice: Real.slice});
		delete ArrayBuffer[Symbol.hasInstance];
		globalThis.Uint8Array = Real.U8;
		const sigs = [];
		for (const k of keys) sigs.push(hex(await S.sign("HMAC", k, msg)));
		let exported; try { await S.exportKey("raw", keys[0]); exported = "exported"; } catch (e) { exported = e.name; }
		return {seen, sigs, export: exported};`, &r)
	m := hmac.New(sha256.New, []byte("0123456789abcdef"))
	m.Write([]byte("x"))
	want := hex.EncodeToString(m.Sum(nil))
	if len(r.Sigs) != 3 || r.Sigs[0] != want || r.Sigs[1] != want || r.Export != "InvalidAccessError" {
		t.Fatalf("unwrapped keys sign %v (want %s twice), export: %s", r.Sigs, want, r.Export)
	}
	derived, _ := pbkdf2.Key(sha256.New, "pw", make([]byte, 4), 2, 32)
	secrets := []string{hex.EncodeToString([]byte("0123456789abcdef")), "0123456789abcdef", base64URLEncode([]byte("0123456789abcdef")),
		hex.EncodeToString(derived), base64.StdEncoding.EncodeToString(derived), base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))}
	for _, s := range r.Seen {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("the guest's replacement saw key bytes: %s", s)
			}
		}
	}
	t.Logf("guest replacements called: %d", len(r.Seen))
}

// A webhook worker as Workers code writes it: the key imported once from env and kept in a
// module variable, each request's X-Signature checked with crypto.subtle.verify. Go signs;
// the worker keeps answering after its sandbox was hibernated and woken.
func TestCryptoWebhookWorker(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: "js", Content: []byte(`
let key;
export default {
  async fetch(req, env) {
    key ??= await crypto.subtle.importKey("raw", new TextEncoder().encode(env.SECRET), {name: "HMAC", hash: "SHA-256"}, false, ["verify"]);
    const sig = Uint8Array.fromHex(req.headers.get("x-signature") ?? "");
    const ok = await crypto.subtle.verify("HMAC", key, sig, await req.arrayBuffer());
    return new Response(ok ? "ok" : "bad signature", {status: ok ? 200 : 401});
  },
};`)}}})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", json.RawMessage(`{"SECRET":"whsec"}`)); err != nil {
		t.Fatal(err)
	}
	send := func(s *engine.Sandbox, body, secret string) int {
		t.Helper()
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		res, err := s.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "POST", URL: "http://w/hook",
			Headers: [][2]string{{"x-signature", hex.EncodeToString(m.Sum(nil))}}, Body: []byte(body)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Status
	}
	if a, b := send(sb, `{"id":1}`, "whsec"), send(sb, `{"id":2}`, "guess"); a != 200 || b != 401 {
		t.Fatalf("statuses %d, %d; want 200, 401", a, b)
	}
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := testEngine.UnmarshalImage(blob)
	if err != nil {
		t.Fatal(err)
	}
	woken, err := testEngine.Restore(ctx, back, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer woken.Close(ctx)
	if a, b := send(woken, `{"id":3}`, "whsec"), send(woken, `{"id":4}`, "guess"); a != 200 || b != 401 {
		t.Fatalf("after hibernation: statuses %d, %d; want 200, 401", a, b)
	}
}
