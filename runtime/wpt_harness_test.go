package runtime_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestWPTHarness checks the WPT harness itself without a checkout (CI has none): on a
// small tree laid out as the WPT is, it picks each suite's .any.js files (tentative and
// https ones, as the Ed448/X448 files are named), honours ISOBOX_WPT_FILES' filter, joins
// META scripts relative to the file and to the root, serves the JSON a test fetches, and
// counts a failing subtest as failed, in a real sandbox.
func TestWPTHarness(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"common/root.js":                        `globalThis.fromRoot = 2;`,
		"WebCryptoAPI/sign_verify/helper.js":    `globalThis.fromHelper = 1;`,
		"WebCryptoAPI/sign_verify/vectors.json": `{"curve": "Ed448"}`,
		"WebCryptoAPI/sign_verify/eddsa_curve448.tentative.https.any.js": `// META: title=fake
// META: script=helper.js
// META: script=/common/root.js
// META: script=missing.js
test(() => assert_equals(fromHelper + fromRoot, 3), "META scripts");
promise_test(async () => {
  const v = await (await fetch("vectors.json")).json();
  assert_equals(v.curve, "Ed448");
  const k = await crypto.subtle.generateKey("Ed448", false, ["sign", "verify"]);
  assert_true(await crypto.subtle.verify("Ed448", k.publicKey, await crypto.subtle.sign("Ed448", k.privateKey, new Uint8Array(1)), new Uint8Array(1)));
}, "a fetched resource and Ed448");
test(() => assert_equals(1, 2), "a failure");
`,
		"WebCryptoAPI/digest/digest.https.any.js":  `test(() => {}, "x");`,
		"WebCryptoAPI/digest/page.https.window.js": `test(() => {}, "a window-only file");`,
		"streams/a.any.js":                         `test(() => {}, "another suite");`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rel := func(fs []string) string {
		var out []string
		for _, f := range fs {
			r, _ := filepath.Rel(dir, f)
			out = append(out, r)
		}
		return strings.Join(out, " ")
	}
	all := regexp.MustCompile("")
	if got, want := rel(wptFiles(dir, "WebCryptoAPI", all)), "WebCryptoAPI/digest/digest.https.any.js WebCryptoAPI/sign_verify/eddsa_curve448.tentative.https.any.js"; got != want {
		t.Fatalf("files: %s, want %s", got, want)
	}
	only := regexp.MustCompile("448")
	curve448 := wptFiles(dir, "WebCryptoAPI", only)
	if got := rel(curve448); got != "WebCryptoAPI/sign_verify/eddsa_curve448.tentative.https.any.js" {
		t.Fatalf("ISOBOX_WPT_FILES=448 picks %s", got)
	}
	if len(wptSuites) != 3 || wptSuites[0] != "WebCryptoAPI" {
		t.Fatalf("default suites %v do not include WebCryptoAPI", wptSuites)
	}
	shim, err := os.ReadFile("testdata/wpt/testharness.js")
	if err != nil {
		t.Fatal(err)
	}
	script, missing, err := wptScript(dir, curve448[0], shim)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || !strings.HasPrefix(missing[0], "missing.js") {
		t.Fatalf("missing META scripts: %q", missing)
	}
	passed, total, note := runWPTFile(t, script+"await __wptRun();\n")
	if passed != 2 || total != 3 || note != "" {
		t.Fatalf("passed %d of %d (%s), want 2 of 3", passed, total, note)
	}
}
