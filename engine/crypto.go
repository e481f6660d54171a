package engine

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
)

// Web Crypto (crypto.subtle) runs in the host on Go's crypto packages. Keys live in a
// per-sandbox key table (keyTable, part of the Sandbox's state like its memory): the
// guest's CryptoKey holds only a handle, so a non-extractable key's bytes never enter the
// sandbox's memory. The table travels with the sandbox's Image (Snapshot, Restore, Fork,
// Marshal), so a worker that keeps a key in a module variable keeps it across hibernation.
// RATIONALE §31 has the trade-offs and the bounds.

const (
	// maxCryptoKeys bounds the live keys of one sandbox; the runtime frees a key's entry
	// when its CryptoKey is garbage collected.
	maxCryptoKeys = 4096
	// maxKeyTableBytes bounds the key material of one sandbox (an estimate per key).
	maxKeyTableBytes = 16 << 20
	// maxRSABits bounds RSA modulus lengths: key generation is one uninterruptible host
	// call, counted against the invocation's CPU only when it returns.
	maxRSABits = 4096
	// maxPBKDF2Iterations bounds PBKDF2's work per call; the loop also polls the
	// invocation's CPU and wall limits every few thousand iterations.
	maxPBKDF2Iterations = 10_000_000
)

// cryptoError is a DOMException of the given name (NotSupportedError, DataError, ...).
func cryptoError(name, format string, args ...any) error {
	return &hostError{name: name, msg: fmt.Sprintf(format, args...)}
}

// keyTable is a sandbox's CryptoKeys, by handle.
type keyTable struct {
	keys  map[int]*cryptoKey
	next  int
	bytes int
}

// clone returns an independent table with the same keys (keys are immutable).
func (t *keyTable) clone() *keyTable {
	if t == nil {
		return nil
	}
	c := &keyTable{keys: make(map[int]*cryptoKey, len(t.keys)), next: t.next, bytes: t.bytes}
	for h, k := range t.keys {
		c.keys[h] = k
	}
	return c
}

func (sb *Sandbox) addKey(k *cryptoKey) (int, error) {
	if sb.keys == nil {
		sb.keys = &keyTable{keys: map[int]*cryptoKey{}, next: 1}
	}
	t := sb.keys
	size := k.size()
	if len(t.keys) >= maxCryptoKeys || t.bytes+size > maxKeyTableBytes {
		return 0, cryptoError("QuotaExceededError", "the sandbox holds %d CryptoKeys (%d bytes); the limit is %d keys, %d bytes",
			len(t.keys), t.bytes, maxCryptoKeys, maxKeyTableBytes)
	}
	h := t.next
	t.next++
	t.keys[h] = k
	t.bytes += size
	return h, nil
}

// key returns the key of handle h, checked for usage (empty: any).
func (sb *Sandbox) key(h int, usage string) (*cryptoKey, error) {
	var k *cryptoKey
	if sb.keys != nil {
		k = sb.keys.keys[h]
	}
	if k == nil {
		return nil, cryptoError("InvalidAccessError", "the CryptoKey is no longer valid")
	}
	if usage != "" && !slices.Contains(k.usages, usage) {
		return nil, cryptoError("InvalidAccessError", "the CryptoKey does not support the %q operation", usage)
	}
	return k, nil
}

// cryptoOps are the host operations of crypto.subtle (runtime/js/45_crypto.js).
var cryptoOps = []hostOp{
	{name: "crypto_import", in: `JSON {"format":"raw|pkcs8|spki|jwk","algorithm":{...},"extractable":bool,"usages":[...],"data":base64|JWK}`,
		out: `JSON CryptoKey description {"handle","type","extractable","algorithm","usages"}`,
		doc: "crypto.subtle.importKey: parses the key into the sandbox's key table (DataError for malformed key data, " +
			"NotSupportedError for an unsupported algorithm or format, SyntaxError for bad usages).", sync: (*Sandbox).opCryptoImport},
	{name: "crypto_generate", in: `JSON {"algorithm":{...},"extractable":bool,"usages":[...]}`,
		out:  `JSON a CryptoKey description, or {"publicKey":...,"privateKey":...}`,
		doc:  fmt.Sprintf("crypto.subtle.generateKey; RSA moduli are 1024..%d bits with publicExponent 65537.", maxRSABits),
		sync: (*Sandbox).opCryptoGenerate},
	{name: "crypto_export", in: `JSON {"handle":n,"format":"raw|pkcs8|spki|jwk"}`, out: `JSON {"data":base64} or {"jwk":{...}}`,
		doc: "crypto.subtle.exportKey; a non-extractable key is InvalidAccessError.", sync: (*Sandbox).opCryptoExport},
	{name: "crypto_free", in: `JSON {"handle":n}`, out: "empty",
		doc: "Drops a key from the table (its CryptoKey was garbage collected).", sync: (*Sandbox).opCryptoFree},
	{name: "crypto_run", in: `JSON {"op":"sign|verify|encrypt|decrypt|wrapKey|unwrapKey|deriveBits|deriveKey","handle":n,"algorithm":{...},"data"?:base64,"signature"?:base64,"length"?:n}`,
		out: "the result's bytes (verify: one byte, 1 for valid)",
		doc: "Runs one key operation; the key must hold the usage (InvalidAccessError) and suit the algorithm. PBKDF2 " +
			fmt.Sprintf("runs at most %d iterations and stops when a CPU or wall limit trips.", maxPBKDF2Iterations),
		sync: (*Sandbox).opCryptoRun},
	{name: "crypto_equal", in: "4-byte big-endian length of a, a, b", out: "one byte, 1 when a and b are equal",
		doc: "crypto.subtle.timingSafeEqual: a constant-time comparison (lengths must match: TypeError).", sync: (*Sandbox).opCryptoEqual},
}

// b64 is a base64 field of a JSON payload (standard or URL alphabet, padded or not).
type b64 []byte

func (b *b64) UnmarshalJSON(in []byte) error {
	var s string
	if err := json.Unmarshal(in, &s); err != nil {
		return err
	}
	v, err := decodeB64(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if v, err := enc.DecodeString(s); err == nil {
			return v, nil
		}
	}
	return nil, cryptoError("DataError", "invalid base64")
}

// algParams is a normalized algorithm dictionary, as the runtime sends it.
type algParams struct {
	Name           string `json:"name"`
	Hash           string `json:"hash"`
	Length         int    `json:"length"`
	NamedCurve     string `json:"namedCurve"`
	ModulusLength  int    `json:"modulusLength"`
	PublicExponent b64    `json:"publicExponent"`
	IV             b64    `json:"iv"`
	Counter        b64    `json:"counter"`
	AdditionalData b64    `json:"additionalData"`
	TagLength      int    `json:"tagLength"`
	SaltLength     int    `json:"saltLength"`
	Label          b64    `json:"label"`
	Salt           b64    `json:"salt"`
	Info           b64    `json:"info"`
	Iterations     int    `json:"iterations"`
	Context        b64    `json:"context"` // Ed448: RFC 8032's context
	Public         int    `json:"public"`  // ECDH, X25519, X448: the peer's public key handle
}

// describe answers the guest's view of a key.
func describe(h int, k *cryptoKey) map[string]any {
	return map[string]any{"handle": h, "type": k.typ, "extractable": k.extractable, "algorithm": k.algorithm(), "usages": k.usages}
}

func (sb *Sandbox) opCryptoImport(in []byte) ([]byte, error) {
	if err := sb.checkLimits(); err != nil {
		return nil, err
	}
	var a struct {
		Format      string          `json:"format"`
		Algorithm   algParams       `json:"algorithm"`
		Extractable bool            `json:"extractable"`
		Usages      []string        `json:"usages"`
		Data        json.RawMessage `json:"data"`
	}
	if err := decode("crypto_import", in, &a); err != nil {
		return nil, err
	}
	k, err := importKey(a.Format, &a.Algorithm, a.Data, a.Extractable, a.Usages)
	if err != nil {
		return nil, err
	}
	h, err := sb.addKey(k)
	if err != nil {
		return nil, err
	}
	return json.Marshal(describe(h, k))
}

func (sb *Sandbox) opCryptoGenerate(in []byte) ([]byte, error) {
	if err := sb.checkLimits(); err != nil {
		return nil, err
	}
	var a struct {
		Algorithm   algParams `json:"algorithm"`
		Extractable bool      `json:"extractable"`
		Usages      []string  `json:"usages"`
	}
	if err := decode("crypto_generate", in, &a); err != nil {
		return nil, err
	}
	pub, priv, err := generateKey(&a.Algorithm, a.Extractable, a.Usages)
	if err != nil {
		return nil, err
	}
	hp, err := sb.addKey(priv)
	if err != nil {
		return nil, err
	}
	if pub == nil {
		return json.Marshal(describe(hp, priv))
	}
	hq, err := sb.addKey(pub)
	if err != nil {
		sb.freeKey(hp)
		return nil, err
	}
	return json.Marshal(map[string]any{"publicKey": describe(hq, pub), "privateKey": describe(hp, priv)})
}

func (sb *Sandbox) opCryptoExport(in []byte) ([]byte, error) {
	var a struct {
		Handle int    `json:"handle"`
		Format string `json:"format"`
	}
	if err := decode("crypto_export", in, &a); err != nil {
		return nil, err
	}
	k, err := sb.key(a.Handle, "")
	if err != nil {
		return nil, err
	}
	if !k.extractable {
		return nil, cryptoError("InvalidAccessError", "the key is not extractable")
	}
	if a.Format == "jwk" {
		jwk, err := k.exportJWK()
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"jwk": jwk})
	}
	data, err := k.export(a.Format)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"data": b64(data)})
}

func (sb *Sandbox) freeKey(h int) {
	if sb.keys == nil {
		return
	}
	if k := sb.keys.keys[h]; k != nil {
		sb.keys.bytes -= k.size()
		delete(sb.keys.keys, h)
	}
}

func (sb *Sandbox) opCryptoFree(in []byte) ([]byte, error) {
	var a struct {
		Handle int `json:"handle"`
	}
	if err := decode("crypto_free", in, &a); err != nil {
		return nil, err
	}
	sb.freeKey(a.Handle)
	return nil, nil
}

func (sb *Sandbox) opCryptoRun(in []byte) ([]byte, error) {
	if err := sb.checkLimits(); err != nil {
		return nil, err
	}
	var a struct {
		Op        string    `json:"op"`
		Handle    int       `json:"handle"`
		Algorithm algParams `json:"algorithm"`
		Data      b64       `json:"data"`
		Signature b64       `json:"signature"`
		Length    *int      `json:"length"`
	}
	if err := decode("crypto_run", in, &a); err != nil {
		return nil, err
	}
	usage := a.Op // deriveKey is deriveBits then importKey in the runtime, with its own usage
	k, err := sb.key(a.Handle, usage)
	if err != nil {
		return nil, err
	}
	if k.alg == "AES-KW" && (a.Op == "encrypt" || a.Op == "decrypt") {
		return nil, cryptoError("InvalidAccessError", "AES-KW keys only wrap and unwrap keys")
	}
	if a.Algorithm.Name != k.alg {
		return nil, cryptoError("InvalidAccessError", "the key is for %s, not %s", k.alg, a.Algorithm.Name)
	}
	switch a.Op {
	case "sign":
		return k.sign(&a.Algorithm, a.Data)
	case "verify":
		ok, err := k.verify(&a.Algorithm, a.Data, a.Signature)
		if err != nil {
			return nil, err
		}
		if ok {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case "encrypt", "wrapKey":
		return k.encrypt(&a.Algorithm, a.Data)
	case "decrypt", "unwrapKey":
		return k.decrypt(&a.Algorithm, a.Data)
	case "deriveBits", "deriveKey":
		var peer *cryptoKey
		if k.alg == "ECDH" || k.alg == "X25519" || k.alg == "X448" {
			if peer, err = sb.key(a.Algorithm.Public, ""); err != nil {
				return nil, err
			}
		}
		return sb.deriveBits(k, peer, &a.Algorithm, a.Length)
	}
	return nil, typeError("crypto_run: unknown operation %q", a.Op)
}

func (sb *Sandbox) opCryptoEqual(in []byte) ([]byte, error) {
	if len(in) < 4 {
		return nil, typeError("crypto_equal: short payload")
	}
	n := int(in[0])<<24 | int(in[1])<<16 | int(in[2])<<8 | int(in[3])
	rest := in[4:]
	if n > len(rest) || len(rest)-n != n {
		return nil, typeError("timingSafeEqual: the two inputs must have the same length")
	}
	return []byte{byte(subtle.ConstantTimeCompare(rest[:n], rest[n:]))}, nil
}

// checkLimits refuses work once the invocation is over a limit. QuickJS polls its limits
// only every few thousand bytecode operations, and a loop around a costly host call (an
// RSA-4096 key generation takes 0.5-3 s here) runs few of them: without this check such a
// loop ran 97 s past a 100 ms CPU limit. The poll that follows stops the guest.
func (sb *Sandbox) checkLimits() error {
	if sb.interrupt() != 0 {
		return cryptoError("OperationError", "the invocation is over a limit")
	}
	return nil
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// storedKey is one key of a marshalled key table (Image.Marshal): its algorithm and its
// bytes as raw (secret), pkcs8 (private) or spki (public).
type storedKey struct {
	Handle      int       `json:"h"`
	Algorithm   algParams `json:"a"`
	Type        string    `json:"t"`
	Extractable bool      `json:"x"`
	Usages      []string  `json:"u"`
	Data        b64       `json:"d"`
}

// marshal writes the table for a hibernated image (nil: no keys).
func (t *keyTable) marshal() ([]byte, error) {
	if t == nil || len(t.keys) == 0 {
		return nil, nil
	}
	keys := make([]storedKey, 0, len(t.keys))
	for h, k := range t.keys {
		format := map[string]string{"secret": "raw", "private": "pkcs8", "public": "spki"}[k.typ]
		saved := *k
		saved.extractable = true // export for storage only
		data, err := saved.export(format)
		if err != nil {
			return nil, err
		}
		keys = append(keys, storedKey{Handle: h, Type: k.typ, Extractable: k.extractable, Usages: k.usages, Data: data,
			Algorithm: algParams{Name: k.alg, Hash: k.hash, Length: k.length, NamedCurve: k.curve}})
	}
	return json.Marshal(map[string]any{"next": t.next, "keys": keys})
}

// unmarshalKeyTable reads what marshal wrote.
func unmarshalKeyTable(b []byte) (*keyTable, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var v struct {
		Next int         `json:"next"`
		Keys []storedKey `json:"keys"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	t := &keyTable{keys: make(map[int]*cryptoKey, len(v.Keys)), next: v.Next}
	for _, s := range v.Keys {
		format := map[string]string{"secret": "raw", "private": "pkcs8", "public": "spki"}[s.Type]
		data, _ := json.Marshal(s.Data)
		alg := s.Algorithm
		k, err := importKey(format, &alg, data, s.Extractable, s.Usages)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", s.Handle, err)
		}
		if s.Handle <= 0 || s.Handle >= t.next || t.keys[s.Handle] != nil {
			return nil, fmt.Errorf("key handle %d out of range", s.Handle)
		}
		t.keys[s.Handle] = k
		t.bytes += k.size()
	}
	return t, nil
}
