package engine_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/isobox/isobox/engine"
)

// The Web Crypto rules the web-platform-tests found broken, each from the specification's
// text (W3C Web Cryptography API): the order in which generateKey reports errors, the
// usages and extractability of public keys, dictionary members an algorithm does not
// declare, a JWK without kty, and an Ed25519 JWK's alg.
func TestCryptoSpecRules(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var got map[string]string
	cryptoEval(t, sb, `const r = {};
		// generateKey: the algorithm's own checks (length, curve) come before "a secret or
		// private key needs a usage" (SubtleCrypto.generateKey, the step after the algorithm ran).
		r.aesBadLengthNoUsages = await fails(S.generateKey({name: "AES-CBC", length: 64}, false, []));
		r.ecBadCurveNoUsages = await fails(S.generateKey({name: "ECDSA", namedCurve: "P-512"}, false, []));
		r.rsaBadModulusNoUsages = await fails(S.generateKey({name: "RSA-PSS", hash: "SHA-256", modulusLength: 8, publicExponent: new Uint8Array([1, 0, 1])}, false, []));
		r.hmacNoUsages = await fails(S.generateKey({name: "HMAC", hash: "SHA-256"}, false, []));
		r.ecdhNoUsages = await fails(S.generateKey({name: "ECDH", namedCurve: "P-256"}, false, []));
		r.badUsageFirst = await fails(S.generateKey({name: "AES-CBC", length: 64}, false, ["sign"]));
		r.importNoUsages = await fails(S.importKey("raw", new Uint8Array(16), "AES-GCM", false, []));

		// A generated pair's public key has the public usages, [] when there are none, and is
		// always extractable.
		const ecdh = await S.generateKey({name: "ECDH", namedCurve: "P-256"}, false, ["deriveBits", "deriveKey"]);
		const ecdsa = await S.generateKey({name: "ECDSA", namedCurve: "P-384"}, false, ["sign", "verify"]);
		const x = await S.generateKey("X25519", false, ["deriveKey"]);
		r.ecdhPublic = JSON.stringify([ecdh.publicKey.usages, ecdh.publicKey.extractable, Array.isArray(ecdh.publicKey.usages)]);
		r.ecdsaPublic = JSON.stringify([ecdsa.publicKey.usages, ecdsa.privateKey.usages, ecdsa.publicKey.extractable]);
		r.x25519Public = JSON.stringify(x.publicKey.usages);

		// An imported public key is as extractable as importKey was told.
		const spki = await S.exportKey("spki", ecdsa.publicKey);
		const fixed = await S.importKey("spki", spki, {name: "ECDSA", namedCurve: "P-384"}, false, ["verify"]);
		r.importedPublic = String(fixed.extractable) + " " + await fails(S.exportKey("spki", fixed));
		const xr = await S.importKey("raw", await S.exportKey("raw", x.publicKey), "X25519", false, []);
		r.importedRawPublic = String(xr.extractable);

		// HKDF's and PBKDF2's importKey take a plain Algorithm: a hash member is ignored.
		const base = await S.importKey("raw", utf8("ikm"), {name: "HKDF", hash: ""}, false, ["deriveKey"]);
		const pb = await S.importKey("raw", utf8("pw"), {name: "PBKDF2", hash: "MD5"}, false, ["deriveBits"]);
		const aes = await S.deriveKey({name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: new Uint8Array()}, base, {name: "AES-GCM", length: 128}, true, ["encrypt"]);
		r.hkdfIgnoresHash = base.algorithm.name + " " + pb.algorithm.name + " " + aes.algorithm.length + " " + JSON.stringify(base.algorithm.hash);
		r.ecdhToHkdf = (await S.deriveKey({name: "ECDH", public: ecdh.publicKey}, ecdh.privateKey, {name: "HKDF", hash: ""}, false, ["deriveBits"])).algorithm.name;
		// ... where the dictionary declares hash, a bad one still fails.
		r.hmacBadHash = await fails(S.importKey("raw", utf8("k"), {name: "HMAC", hash: "MD5"}, false, ["sign"]));

		// JsonWebKey does not require kty: each algorithm finds it missing (DataError).
		r.jwkNoKty = await fails(S.importKey("jwk", {k: "AAAAAAAAAAAAAAAAAAAAAA"}, "AES-GCM", false, ["encrypt"]));
		// An Ed25519 JWK's alg is "Ed25519" or "EdDSA", exactly; public keys are checked too.
		const pub = await S.exportKey("jwk", (await S.generateKey("Ed25519", true, ["sign"])).publicKey);
		r.edAlgLower = await fails(S.importKey("jwk", {...pub, alg: "ed25519"}, "Ed25519", false, []));
		r.edAlgEdDSA = (await S.importKey("jwk", {...pub, alg: "EdDSA"}, "Ed25519", false, [])).type;
		return r;`, &got)
	want := map[string]string{
		"aesBadLengthNoUsages":  "DOMException:OperationError",
		"ecBadCurveNoUsages":    "DOMException:NotSupportedError",
		"rsaBadModulusNoUsages": "DOMException:OperationError",
		"hmacNoUsages":          "DOMException:SyntaxError",
		"ecdhNoUsages":          "DOMException:SyntaxError",
		"badUsageFirst":         "DOMException:SyntaxError",
		"importNoUsages":        "DOMException:SyntaxError",
		"ecdhPublic":            `[[],true,true]`,
		"ecdsaPublic":           `[["verify"],["sign"],true]`,
		"x25519Public":          `[]`,
		"importedPublic":        "false DOMException:InvalidAccessError",
		"importedRawPublic":     "false",
		"hkdfIgnoresHash":       "HKDF PBKDF2 128 undefined",
		"ecdhToHkdf":            "HKDF",
		"hmacBadHash":           "DOMException:NotSupportedError",
		"jwkNoKty":              "DOMException:DataError",
		"edAlgLower":            "DOMException:DataError",
		"edAlgEdDSA":            "public",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
}

// AES-GCM takes every tag length the spec lists (32, 64, 96..128 bits) with an iv of any
// length: the result is Go's full-tag GCM output cut to the tag length, decryption takes it
// back, and a changed byte anywhere (ciphertext or the short tag) is an OperationError.
func TestCryptoAESGCMTagLengths(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	key := make([]byte, 16)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	msg := []byte("the tag is cut, the check is not")
	for _, c := range []struct{ ivLen, tag int }{{12, 32}, {12, 64}, {32, 32}, {32, 96}, {32, 120}, {16, 128}, {12, 104}} {
		iv := make([]byte, c.ivLen)
		rand.Read(iv)
		var r struct{ CT, Back, TamperCT, TamperTag, Truncated string }
		cryptoEval(t, sb, fmt.Sprintf(`const k = await S.importKey("raw", unhex(%q), "AES-GCM", false, ["encrypt", "decrypt"]);
			const p = {name: "AES-GCM", iv: unhex(%q), additionalData: utf8("aad"), tagLength: %d};
			const ct = new Uint8Array(await S.encrypt(p, k, unhex(%q)));
			const flip = (i) => { const c = ct.slice(); c[i] ^= 1; return c; };
			return {ct: hex(ct), back: hex(await S.decrypt(p, k, ct)),
				tamperCT: await fails(S.decrypt(p, k, flip(0))), tamperTag: await fails(S.decrypt(p, k, flip(ct.length - 1))),
				truncated: await fails(S.decrypt(p, k, ct.subarray(0, %d - 1)))};`,
			hex.EncodeToString(key), hex.EncodeToString(iv), c.tag, hex.EncodeToString(msg), c.tag/8), &r)
		g, _ := cipher.NewGCMWithNonceSize(block, c.ivLen)
		full := g.Seal(nil, iv, msg, []byte("aad"))
		if want := hex.EncodeToString(full[:len(msg)+c.tag/8]); r.CT != want {
			t.Errorf("iv %d bytes, tag %d: ciphertext %s, want Go's %s", c.ivLen, c.tag, r.CT, want)
		}
		if r.Back != hex.EncodeToString(msg) {
			t.Errorf("iv %d bytes, tag %d: decrypt gave %s", c.ivLen, c.tag, r.Back)
		}
		for what, e := range map[string]string{"changed ciphertext": r.TamperCT, "changed tag": r.TamperTag, "short input": r.Truncated} {
			if e != "DOMException:OperationError" {
				t.Errorf("iv %d bytes, tag %d: %s: %s, want an OperationError", c.ivLen, c.tag, what, e)
			}
		}
	}
	var bad string
	cryptoEval(t, sb, `const k = await S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
		return fails(S.encrypt({name: "AES-GCM", iv: new Uint8Array(12), tagLength: 48}, k, new Uint8Array(4)));`, &bad)
	if bad != "DOMException:OperationError" {
		t.Errorf("tagLength 48: %s, want an OperationError", bad)
	}
}

// An EC SubjectPublicKeyInfo may carry its point compressed (RFC 5480 §2.2): it imports
// as the same key (exported raw, uncompressed, it is Go's point), and on the wrong curve it
// is a DataError.
func TestCryptoCompressedSPKI(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	sk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	type algID struct{ Algorithm, Parameters asn1.ObjectIdentifier }
	der, err := asn1.Marshal(struct {
		Algorithm algID
		PublicKey asn1.BitString
	}{
		algID{asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}},
		asn1.BitString{Bytes: elliptic.MarshalCompressed(elliptic.P256(), sk.X, sk.Y), BitLength: 33 * 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Raw, WrongCurve, Usable string }
	cryptoEval(t, sb, fmt.Sprintf(`const der = unhex(%q);
		const k = await S.importKey("spki", der, {name: "ECDSA", namedCurve: "P-256"}, true, ["verify"]);
		const ok = await S.verify({name: "ECDSA", hash: "SHA-256"}, k, new Uint8Array(64), utf8("x"));
		return {raw: hex(await S.exportKey("raw", k)), usable: String(ok),
			wrongCurve: await fails(S.importKey("spki", der, {name: "ECDSA", namedCurve: "P-384"}, true, ["verify"]))};`,
		hex.EncodeToString(der)), &r)
	pub, _ := sk.PublicKey.Bytes()
	if r.Raw != hex.EncodeToString(pub) || r.Usable != "false" {
		t.Errorf("compressed SPKI imported as %s (verify of a zero signature: %s), want Go's point %x", r.Raw, r.Usable, pub)
	}
	if r.WrongCurve != "DOMException:DataError" {
		t.Errorf("on the wrong curve: %s, want a DataError", r.WrongCurve)
	}
}

// Ed25519 verify answers false when the public key or the signature's R is a point of
// small order (Secure Curves in WebCrypto): with the identity as both, RFC 8032's equation
// holds for any message (Go's ed25519.Verify accepts it), so without this check anyone
// could "sign" for such a key.
func TestCryptoEd25519SmallOrder(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	identity := make([]byte, 32)
	identity[0] = 1
	forged := append(slices.Clone(identity), make([]byte, 32)...) // R = identity, S = 0
	if !ed25519.Verify(identity, []byte("any message"), forged) {
		t.Fatal("precondition: Go's RFC 8032 verify accepts the forged signature")
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	good := ed25519.Sign(priv, []byte("any message"))
	smallR := append(slices.Clone(identity), good[32:]...)
	var r struct{ Forged, Good, SmallR string }
	cryptoEval(t, sb, fmt.Sprintf(`const msg = utf8("any message");
		const weak = await S.importKey("raw", unhex(%q), "Ed25519", false, ["verify"]);
		const k = await S.importKey("raw", unhex(%q), "Ed25519", false, ["verify"]);
		return {forged: String(await S.verify("Ed25519", weak, unhex(%q), msg)),
			good: String(await S.verify("Ed25519", k, unhex(%q), msg)),
			smallR: String(await S.verify("Ed25519", k, unhex(%q), msg))};`,
		hex.EncodeToString(identity), hex.EncodeToString(pub), hex.EncodeToString(forged), hex.EncodeToString(good), hex.EncodeToString(smallR)), &r)
	if r.Forged != "false" || r.Good != "true" || r.SmallR != "false" {
		t.Errorf("verify: small-order key %s, real signature %s, small-order R %s; want false, true, false", r.Forged, r.Good, r.SmallR)
	}
}
