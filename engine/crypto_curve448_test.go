package engine_test

import (
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/isobox/isobox/engine"
)

// rfc8032Ed448 are RFC 8032 §7.4's Ed448 test vectors (secret seed, public key, message,
// context, signature).
var rfc8032Ed448 = []struct{ name, sk, pk, msg, ctx, sig string }{
	{"blank",
		"6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
		"5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
		"", "",
		"533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600"},
	{"1 octet",
		"c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463afbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
		"43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c0866aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
		"03", "",
		"26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd0087810f4352541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e0dbcc0aae1cbcee1afb2e027df36bc04dcecbf154336c19f0af7e0a6472905e799f1953d2a0ff3348ab21aa4adafd1d234441cf807c03a00"},
	{"1 octet with context",
		"c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463afbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
		"43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c0866aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
		"03", "666f6f",
		"d4f8f6131770dd46f40867d6fd5d5055de43541f8c5e35abbcd001b32a89f7d2151f7647f11d8ca2ae279fb842d607217fce6e042f6815ea000c85741de5c8da1144a6a1aba7f96de42505d7a7298524fda538fccbbb754f578c1cad10d54d0d5428407e85dcbc98a49155c13764e66c3c00"},
	{"11 octets",
		"cd23d24f714274e744343237b93290f511f6425f98e64459ff203e8985083ffdf60500553abc0e05cd02184bdb89c4ccd67e187951267eb328",
		"dcea9e78f35a1bf3499a831b10b86c90aac01cd84b67a0109b55a36e9328b1e365fce161d71ce7131a543ea4cb5f7e9f1d8b00696447001400",
		"0c3e544074ec63b0265e0c", "",
		"1f0a8888ce25e8d458a21130879b840a9089d999aaba039eaf3e3afa090a09d389dba82c4ff2ae8ac5cdfb7c55e94d5d961a29fe0109941e00b8dbdeea6d3b051068df7254c0cdc129cbe62db2dc957dbb47b51fd3f213fb8698f064774250a5028961c9bf8ffd973fe5d5c206492b140e00"},
}

// pkcs8Of writes an RFC 8410 PrivateKeyInfo with encoding/asn1 (not the engine's code).
func pkcs8Of(t *testing.T, oid asn1.ObjectIdentifier, d []byte) string {
	t.Helper()
	inner, _ := asn1.Marshal(d)
	der, err := asn1.Marshal(struct {
		V   int
		Alg struct{ OID asn1.ObjectIdentifier }
		Key []byte
	}{Alg: struct{ OID asn1.ObjectIdentifier }{oid}, Key: inner})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(der)
}

// Ed448 against RFC 8032's vectors (a deterministic signature, so an exact answer), with
// circl verifying a generated key's signatures from its exported spki, and every format.
func TestCryptoEd448(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	for _, v := range rfc8032Ed448 {
		var got struct {
			Sig, PKCS8Sig, Raw    string
			OK, Flipped, OtherCtx bool
		}
		jwk := fmt.Sprintf(`{kty: "OKP", crv: "Ed448", d: unhex(%q).toBase64({alphabet: "base64url", omitPadding: true}), x: unhex(%q).toBase64({alphabet: "base64url", omitPadding: true})}`, v.sk, v.pk)
		cryptoEval(t, sb, fmt.Sprintf(`const alg = {name: "Ed448", context: unhex(%[3]q)};
			const sk = await S.importKey("jwk", %[1]s, "Ed448", false, ["sign"]);
			const sk2 = await S.importKey("pkcs8", unhex(%[4]q), {name: "ed448"}, false, ["sign"]);
			const pk = await S.importKey("raw", unhex(%[5]q), "Ed448", true, ["verify"]);
			const sig = new Uint8Array(await S.sign(alg, sk, unhex(%[2]q)));
			const r = {sig: hex(sig), pkcs8Sig: hex(await S.sign(alg, sk2, unhex(%[2]q))), raw: hex(await S.exportKey("raw", pk))};
			r.ok = await S.verify(alg, pk, sig, unhex(%[2]q));
			r.otherCtx = await S.verify({name: "Ed448", context: utf8("bar")}, pk, sig, unhex(%[2]q));
			sig[0] ^= 1;
			r.flipped = await S.verify(alg, pk, sig, unhex(%[2]q));
			return r;`, jwk, v.msg, v.ctx, pkcs8Of(t, asn1.ObjectIdentifier{1, 3, 101, 113}, unhex(t, v.sk)), v.pk), &got)
		if got.Sig != v.sig || got.PKCS8Sig != v.sig || got.Raw != v.pk {
			t.Errorf("%s: signature %s (from pkcs8 %s), raw public key %s; want %s", v.name, got.Sig, got.PKCS8Sig, got.Raw, v.sig)
		}
		if !got.OK || got.Flipped || got.OtherCtx {
			t.Errorf("%s: verify = %v, with a flipped bit %v, under another context %v", v.name, got.OK, got.Flipped, got.OtherCtx)
		}
	}

	// A generated key: circl verifies the JS signature with the exported spki's key, and
	// every export format carries the same key.
	var out struct{ Sig, SPKI, Raw, PKCS8, JWKX, JWKD, Alg, Crv string }
	cryptoEval(t, sb, `const {publicKey, privateKey} = await S.generateKey("Ed448", true, ["sign", "verify"]);
		const jwk = await S.exportKey("jwk", privateKey);
		return {sig: hex(await S.sign({name: "Ed448", context: utf8("ctx")}, privateKey, utf8("payload"))),
			spki: hex(await S.exportKey("spki", publicKey)), raw: hex(await S.exportKey("raw", publicKey)),
			pkcs8: hex(await S.exportKey("pkcs8", privateKey)), jwkX: jwk.x, jwkD: jwk.d, alg: jwk.alg, crv: jwk.crv};`, &out)
	var spki struct {
		Alg struct{ OID asn1.ObjectIdentifier }
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(unhex(t, out.SPKI), &spki); err != nil || !spki.Alg.OID.Equal(asn1.ObjectIdentifier{1, 3, 101, 113}) {
		t.Fatalf("spki %s: %v (oid %v)", out.SPKI, err, spki.Alg.OID)
	}
	if !ed448.Verify(ed448.PublicKey(spki.Key.Bytes), []byte("payload"), unhex(t, out.Sig), "ctx") {
		t.Fatal("circl does not verify the sandbox's Ed448 signature")
	}
	x, _ := base64URL(out.JWKX)
	d, _ := base64URL(out.JWKD)
	if hex.EncodeToString(x) != out.Raw || hex.EncodeToString(spki.Key.Bytes) != out.Raw || out.Alg != "Ed448" || out.Crv != "Ed448" {
		t.Fatalf("exports disagree: raw %s, spki %x, jwk x %x (alg %q, crv %q)", out.Raw, spki.Key.Bytes, x, out.Alg, out.Crv)
	}
	if pkcs8Of(t, asn1.ObjectIdentifier{1, 3, 101, 113}, d) != out.PKCS8 {
		t.Fatalf("pkcs8 %s is not the JWK's d %x", out.PKCS8, d)
	}
}

// RFC 7748 §6.2's X448 Diffie-Hellman example: both sides derive the shared secret; a
// generated pair agrees with itself; deriveKey makes a working AES key.
func TestCryptoX448(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	const (
		alicePriv = "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b"
		alicePub  = "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0"
		bobPriv   = "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d"
		bobPub    = "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609"
		shared    = "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d"
	)
	oid := asn1.ObjectIdentifier{1, 3, 101, 111}
	var got struct{ A, B, AlicePub, Short, Gen, Decrypted string }
	cryptoEval(t, sb, fmt.Sprintf(`const alice = await S.importKey("pkcs8", unhex(%q), "X448", true, ["deriveBits", "deriveKey"]);
		const bob = await S.importKey("pkcs8", unhex(%q), {name: "X448"}, false, ["deriveBits"]);
		const alicePub = await S.importKey("raw", unhex(%q), "X448", true, []);
		const bobPub = await S.importKey("spki", unhex(%q), "X448", true, []);
		const jwk = await S.exportKey("jwk", alice);
		const r = {alicePub: Uint8Array.fromBase64(jwk.x, {alphabet: "base64url"}).toHex()};
		r.a = hex(await S.deriveBits({name: "X448", public: bobPub}, alice, 448));
		r.b = hex(await S.deriveBits({name: "X448", public: alicePub}, bob, null));
		r.short = hex(await S.deriveBits({name: "X448", public: bobPub}, alice, 12));
		const p = await S.generateKey("X448", false, ["deriveBits"]), q = await S.generateKey("X448", false, ["deriveBits"]);
		const pq = hex(await S.deriveBits({name: "X448", public: q.publicKey}, p.privateKey, 448));
		r.gen = pq === hex(await S.deriveBits({name: "X448", public: p.publicKey}, q.privateKey, 448)) ? "agree" : "differ";
		const aes = await S.deriveKey({name: "X448", public: bobPub}, alice, {name: "AES-GCM", length: 256}, false, ["encrypt", "decrypt"]);
		const iv = new Uint8Array(12);
		r.decrypted = new TextDecoder().decode(await S.decrypt({name: "AES-GCM", iv}, aes, await S.encrypt({name: "AES-GCM", iv}, aes, utf8("hello"))));
		return r;`, pkcs8Of(t, oid, unhex(t, alicePriv)), pkcs8Of(t, oid, unhex(t, bobPriv)), alicePub,
		"3042300506032b656f033900"+bobPub), &got)
	if got.A != shared || got.B != shared {
		t.Errorf("shared secrets %s and %s, want %s", got.A, got.B, shared)
	}
	if got.AlicePub != alicePub || got.Short != shared[:3]+"0" || got.Gen != "agree" || got.Decrypted != "hello" {
		t.Errorf("alice's public key %s (want %s), 12 bits %s, generated pairs %s, deriveKey round trip %q", got.AlicePub, alicePub, got.Short, got.Gen, got.Decrypted)
	}
}

// Bad and hostile Ed448/X448 input is the spec's DOMException, and small-order points do
// not verify or derive.
func TestCryptoCurve448Errors(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	// The identity point as public key and R, S = 0: RFC 8032 verification alone accepts
	// it for any message.
	identity := "01" + strings.Repeat("00", 56)
	var got map[string]string
	cryptoEval(t, sb, fmt.Sprintf(`const r = {};
		const key = (fmt, data, alg, uses) => S.importKey(fmt, data, alg, true, uses);
		r.shortRaw = await fails(key("raw", new Uint8Array(56), "Ed448", ["verify"]));
		r.hugeRaw = await fails(key("raw", new Uint8Array(1 << 20), "X448", []));
		r.x448AsEd = await fails(key("spki", unhex("3042300506032b656f033900" + "11".repeat(56)), "Ed448", ["verify"]));
		r.truncatedSpki = await fails(key("spki", unhex("3043300506032b6571033a00"), "Ed448", ["verify"]));
		r.pkcs8Garbage = await fails(key("pkcs8", utf8("not der"), "X448", ["deriveBits"]));
		r.jwkWrongCrv = await fails(key("jwk", {kty: "OKP", crv: "Ed25519", x: "AA"}, "Ed448", ["verify"]));
		r.jwkNotString = await fails(key("jwk", {kty: "OKP", crv: "Ed448", x: 5}, "Ed448", ["verify"]));
		r.jwkBadBase64 = await fails(key("jwk", {kty: "OKP", crv: "Ed448", x: "!!!"}, "Ed448", ["verify"]));
		r.jwkWrongAlg = await fails(key("jwk", {kty: "OKP", crv: "Ed448", alg: "Ed25519", x: "A".repeat(76)}, "Ed448", ["verify"]));
		const pair = await S.generateKey("Ed448", true, ["sign", "verify"]);
		const jwk = await S.exportKey("jwk", pair.privateKey);
		const other = await S.exportKey("jwk", (await S.generateKey("Ed448", true, ["sign"])).privateKey);
		r.jwkMismatch = await fails(key("jwk", {...jwk, d: other.d}, "Ed448", ["sign"]));
		r.jwkUse = await fails(key("jwk", {...jwk, use: "enc"}, "Ed448", ["sign"]));
		r.edDSAAlg = (await key("jwk", {...jwk, alg: "EdDSA"}, "Ed448", ["sign"])).algorithm.name;
		r.badUsage = await fails(key("jwk", jwk, "Ed448", ["deriveBits"]));
		r.longContext = await fails(S.sign({name: "Ed448", context: new Uint8Array(256)}, pair.privateKey, utf8("x")));
		r.wrongAlg = await fails(S.sign("Ed25519", pair.privateKey, utf8("x")));
		r.x448Sign = await fails(S.sign("X448", pair.privateKey, utf8("x")));
		r.publicSigns = await fails(S.sign("Ed448", pair.publicKey, utf8("x")));
		r.shortSig = String(await S.verify("Ed448", pair.publicKey, new Uint8Array(10), utf8("x")));
		const id = await key("raw", unhex(%[1]q), "Ed448", ["verify"]);
		r.identity = String(await S.verify("Ed448", id, unhex(%[1]q + "00".repeat(57)), utf8("any message")));
		const x = await S.generateKey("X448", false, ["deriveBits"]);
		const zero = await key("raw", new Uint8Array(56), "X448", []);
		r.zeroPeer = await fails(S.deriveBits({name: "X448", public: zero}, x.privateKey, 448));
		r.longBits = await fails(S.deriveBits({name: "X448", public: x.publicKey}, x.privateKey, 456));
		const c = await S.generateKey("X25519", false, ["deriveBits"]);
		r.crossCurve = await fails(S.deriveBits({name: "X448", public: c.publicKey}, x.privateKey, 448));
		r.privateAsPeer = await fails(S.deriveBits({name: "X448", public: x.privateKey}, x.privateKey, 448));
		r.exportHidden = await fails(S.exportKey("pkcs8", x.privateKey));
		r.rawPrivate = await fails(S.exportKey("raw", pair.privateKey));
		return r;`, identity), &got)
	want := map[string]string{
		"shortRaw": "DOMException:DataError", "hugeRaw": "DOMException:DataError", "x448AsEd": "DOMException:DataError",
		"truncatedSpki": "DOMException:DataError", "pkcs8Garbage": "DOMException:DataError", "jwkWrongCrv": "DOMException:DataError",
		"jwkNotString": "DOMException:DataError", "jwkBadBase64": "DOMException:DataError", "jwkWrongAlg": "DOMException:DataError",
		"jwkMismatch": "DOMException:DataError", "jwkUse": "DOMException:DataError", "edDSAAlg": "Ed448",
		"badUsage": "DOMException:SyntaxError", "longContext": "DOMException:OperationError", "wrongAlg": "DOMException:InvalidAccessError",
		"x448Sign": "DOMException:NotSupportedError", "publicSigns": "DOMException:InvalidAccessError", "shortSig": "false",
		"identity": "false", "zeroPeer": "DOMException:OperationError", "longBits": "DOMException:OperationError",
		"crossCurve": "DOMException:InvalidAccessError", "privateAsPeer": "DOMException:InvalidAccessError",
		"exportHidden": "DOMException:InvalidAccessError", "rawPrivate": "DOMException:InvalidAccessError",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}
}

// An Ed448 and an X448 key kept in globals survive hibernation (Image.Marshal writes them
// as pkcs8 and spki).
func TestCryptoCurve448KeysSurviveHibernation(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	var before string
	cryptoEval(t, sb, `globalThis.ed = await S.generateKey("Ed448", false, ["sign", "verify"]);
		globalThis.x = await S.generateKey("X448", false, ["deriveBits"]);
		return hex(await S.deriveBits({name: "X448", public: x.publicKey}, x.privateKey, 448));`, &before)
	woken := restoreFromBytes(t, sb, engine.SandboxConfig{})
	var after struct {
		Bits string
		OK   bool
	}
	cryptoEval(t, woken, `const sig = await S.sign("Ed448", ed.privateKey, utf8("m"));
		return {bits: hex(await S.deriveBits({name: "X448", public: x.publicKey}, x.privateKey, 448)), ok: await S.verify("Ed448", ed.publicKey, sig, utf8("m"))};`, &after)
	if after.Bits != before || !after.OK {
		t.Fatalf("after hibernation: X448 bits %s (before %s), Ed448 verifies %v", after.Bits, before, after.OK)
	}
}
