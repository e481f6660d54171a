package engine_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/isobox/isobox/engine"
)

// rsaPSSZeroSalt are RSA-PSS signatures with an empty salt made by OpenSSL 3.0.19 (an
// independent implementation; with no salt the signature is deterministic), over the
// message "isobox PSS salt 0":
//
//	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out k.pem
//	openssl dgst -sha256 -sign k.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:0 msg
//
// The 1025-bit key puts the encoding one byte shorter than the modulus (emBits = 1024).
var rsaPSSZeroSalt = []struct{ name, pkcs8, hash, sig string }{
	{"1024-bit, SHA-256",
		"30820275020100300d06092a864886f70d01010105000482025f3082025b02010002818100970c1ed15b8222bfd2d62cf110a6bc6961cb659bf966c55a2df771492968abc39a6e1159950beba729c6d620890119029b435b2f800010c436d0ce00eb9ae8ce2c264f157f7dba7137e168804e70331b23fb7657420983069074971f880754dd8b63ad6a87bd8bc1bf6d624cd543916df03555215a8e8c46b12675630a8efebb02030100010281807654ca77dd26902e92efb2f98fbfefeee6ec3f47f814a91b42d38cee72004c3fcae5dbb5c06c3c4b13117082c0921993cf2aef6ec0ea4c384b713d51bf41f68b0a32f9c8903cd4d30793d4917286be5664a0fe664a922ad7793a3625164d300c98bd9b62c4a67d5cb142087be6be9141b071946672f40ccb717499e6e10429c1024100c5d20a91e6958aaf33caa1480d056f40c383369a6db14a6b3947d163124e38322c253b030dcb46511a6daacb101cff86793ac39bcb973efde8eed173792f10d1024100c37884663051f01d75d96342b6085d17a45fdc894c2b849e27029294e09d81bd7ce4045e150cc715a4d0d68fa53f2e822fe8d7e80751da1dc29a4a3cb82459cb02403c5aa004f19ff06711db21a7d4e9328f44d754a27b131b4c697682e8c21e0141357cca6b5d1b06c219d919c1c891c0582bc685059470f9b4080c4cf4f92525f1024017f409cd77f8628349b0c50024cc6b93fd199e2dd8feb036ad331c814ff11d37fa38faec088a534f2cae46ccbd843b8fca8d2f0008fd97cbf3cff26ef465c7f7024039ffb1c2248ba1fe79d375d6195e057fd4948dab52151e3fa8f216513cf4ee29bbe23442fe9c8209e4c21b6fbd8c3ed7c12f77bf178c7e49e2fdad109ec79bd2",
		"SHA-256",
		"8e07cc1cfae0cebd22739dafac382f642257a081512ec86a654df2d903caf21bd81b52af75858705d2be1147178e20acfced7683b59af7c67f0256d0b593a94528cd0c62548ca6f8aeaab3210794e012ecbed52cc0bc2aac4fab6b900f8ca3ff5cbf738dda93124a5a166b8f0889ed3d67b170cb9c633d416952396f7a109023"},
	{"1025-bit, SHA-512",
		"30820278020100300d06092a864886f70d0101010500048202623082025e020100028181017e25db5b28782bdee041e913d4edbd230bf7af9b448774fdcfef2dbd0dd31fad29221f226954bf41788b0da161d4ba4339a2f5b4cddea4f17d65332cd4a4489d553ed6f787547c56edb5abc44f7e53ae247dcffef0d391ec29f27edd616ab892f6bf040c1fdc2260c88490eccdbb20f84dd438b11bdaed92d663e2cb806a101d02030100010281810167fd6f93831f196cbe633896c70a221726c9f0325b2f23a589c0ed9c5fae97f37e8137452a667c38c7be6e5bad9640d4dd31c736c88cc962f856620c0450b258888f891808adc2fa46cd896335f05ed3c47a5e3b435e121c10ed785114713e9617d42113b523905e098ec0fc3d527ba3542a858afbc9e6851074dba45a5204a1024101ded57bcfb3ffe59dab18358f1aa992c026a8c5ac7efa901229dad1b06ba615b8baa346c682a29eb11b049834d061bae6bb8c2fb8d0d558d4d743860e631d2875024100cc4efc2882b99f64e3ca78f874fe55310978a031e758509978711b0be008c92746fe0888a6d5dd655a9f49eafab8ae113513014e0a281bd18b3a890b650094090241016640215f1814282e5bd944112a689ed446d854f52717be7ce875c01717a36e7304a8ae864d2cf0401fafc35518675657d51020904d26a24cb435dff199b432150240560f775c41249ba5cde63deabaad5f895669ff60c608877afe26f6b39bdd578e39f34bf8f3fde6528947cbc5357391af21e22d8c87eeb9391d22bd1395aa16b1024101ae61ad504712f6fd2d9711eefde1653cee7b19276cf2703accfb3153c3cae07c211fd853b061dbc3d9ef298abc64dba5844915ce4d0f0a9976d36d21bbf3a3a5",
		"SHA-512",
		"00bcbb3cf39af0e72c8ddd8b2ee10fff81170a07dc890689516ec1d6618404da4af64b01dca6c97c314e1fea5bc698fb7d65d185de7caba3f3dab56a1ef5960ec5ea415f104e3584efa089bb704bfc530271b6017397714aec9b9022daad23a8c42370667affbb364b6e93d9256f28e32d23bae86c491647a94d64a5148d50768d"},
}

// RSA-PSS with saltLength 0: the sandbox's signature is OpenSSL's byte for byte, verifies
// only as a salt-0 signature, and a signature with a salt does not verify as salt 0 (Go's
// own VerifyPSS with SaltLength 0 would accept it: 0 means "any" there).
func TestCryptoRSAPSSZeroSalt(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	for _, v := range rsaPSSZeroSalt {
		var got struct {
			Sig                     string
			OK, AsSalt20, Flipped   bool
			Salted, SaltedOK, Twice bool
		}
		cryptoEval(t, sb, fmt.Sprintf(`const alg = {name: "RSA-PSS", hash: %[2]q};
			const sk = await S.importKey("pkcs8", unhex(%[1]q), alg, false, ["sign"]);
			const msg = utf8("isobox PSS salt 0");
			const sig = new Uint8Array(await S.sign({name: "RSA-PSS", saltLength: 0}, sk, msg));
			const r = {sig: hex(sig)};
			r.twice = hex(await S.sign({name: "RSA-PSS", saltLength: 0}, sk, msg)) === r.sig;
			return r;`, v.pkcs8, v.hash), &got)
		if got.Sig != v.sig || !got.Twice {
			t.Errorf("%s: signature %s (deterministic: %v), want OpenSSL's %s", v.name, got.Sig, got.Twice, v.sig)
		}
		// Verification with the public half, exported by Go from the pkcs8.
		key, err := x509.ParsePKCS8PrivateKey(unhex(t, v.pkcs8))
		if err != nil {
			t.Fatal(err)
		}
		spki, _ := x509.MarshalPKIXPublicKey(&key.(*rsa.PrivateKey).PublicKey)
		salted, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-512": crypto.SHA512}[v.hash],
			digest(v.hash, []byte("isobox PSS salt 0")), &rsa.PSSOptions{SaltLength: 20})
		if err != nil {
			t.Fatal(err)
		}
		cryptoEval(t, sb, fmt.Sprintf(`const pk = await S.importKey("spki", unhex(%[1]q), {name: "RSA-PSS", hash: %[2]q}, false, ["verify"]);
			const msg = utf8("isobox PSS salt 0"), sig = unhex(%[3]q), salted = unhex(%[4]q);
			const r = {ok: await S.verify({name: "RSA-PSS", saltLength: 0}, pk, sig, msg)};
			r.asSalt20 = await S.verify({name: "RSA-PSS", saltLength: 20}, pk, sig, msg);
			r.saltedOK = await S.verify({name: "RSA-PSS", saltLength: 20}, pk, salted, msg);
			r.salted = await S.verify({name: "RSA-PSS", saltLength: 0}, pk, salted, msg);
			sig[sig.length - 1] ^= 1;
			r.flipped = await S.verify({name: "RSA-PSS", saltLength: 0}, pk, sig, msg);
			return r;`, fmt.Sprintf("%x", spki), v.hash, v.sig, fmt.Sprintf("%x", salted)), &got)
		if !got.OK || got.AsSalt20 || got.Flipped || !got.SaltedOK || got.Salted {
			t.Errorf("%s: verify salt 0 %v, as salt 20 %v, flipped %v; a salt-20 signature: as 20 %v, as 0 %v",
				v.name, got.OK, got.AsSalt20, got.Flipped, got.SaltedOK, got.Salted)
		}
	}

	// Generated keys of the sizes code uses: Go's crypto/rsa verifies each signature (its
	// auto-detecting verify finds the empty salt), for messages of every length class.
	var out struct {
		SPKI string
		Sigs []string
		Bad  map[string]string
	}
	cryptoEval(t, sb, `const alg = {name: "RSA-PSS", hash: "SHA-256", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1])};
		const {publicKey, privateKey} = await S.generateKey(alg, true, ["sign", "verify"]);
		const sigs = [];
		for (let i = 0; i < 8; i++) sigs.push(hex(await S.sign({name: "RSA-PSS", saltLength: 0}, privateKey, utf8("m".repeat(i * 37)))));
		const bad = {
			missing: await fails(S.sign({name: "RSA-PSS"}, privateKey, utf8("x"))),
			negative: await fails(S.sign({name: "RSA-PSS", saltLength: -1}, privateKey, utf8("x"))),
			tooLong: await fails(S.sign({name: "RSA-PSS", saltLength: 223}, privateKey, utf8("x"))),
			longest: String((await S.sign({name: "RSA-PSS", saltLength: 222}, privateKey, utf8("x"))).byteLength),
			verifyMissing: await fails(S.verify({name: "RSA-PSS"}, publicKey, new Uint8Array(256), utf8("x"))),
			shortSig: String(await S.verify({name: "RSA-PSS", saltLength: 0}, publicKey, new Uint8Array(255), utf8("x"))),
			hugeSig: String(await S.verify({name: "RSA-PSS", saltLength: 0}, publicKey, new Uint8Array(256).fill(255), utf8("x"))),
		};
		return {spki: hex(await S.exportKey("spki", publicKey)), sigs, bad};`, &out)
	pub, err := x509.ParsePKIXPublicKey(unhex(t, out.SPKI))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range out.Sigs {
		msg := make([]byte, i*37)
		for j := range msg {
			msg[j] = 'm'
		}
		d := sha256.Sum256(msg)
		if err := rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, d[:], unhex(t, s), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
			t.Errorf("message %d: Go does not verify the salt-0 signature: %v", i, err)
		}
	}
	want := map[string]string{"missing": "TypeError:TypeError", "negative": "TypeError:TypeError", "tooLong": "DOMException:OperationError",
		"longest": "256", "verifyMissing": "TypeError:TypeError", "shortSig": "false", "hugeSig": "false"}
	for k, w := range want {
		if out.Bad[k] != w {
			t.Errorf("%s: %s, want %s", k, out.Bad[k], w)
		}
	}
}

func digest(name string, b []byte) []byte {
	h := map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-512": crypto.SHA512}[name].New()
	h.Write(b)
	return h.Sum(nil)
}
