package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/isobox/isobox/engine"
)

// wptDir is where CI lays the shared conformance data: ../shared beside the repository.
const wptDir = "../../shared/conformance/wpt-url"

// TestURLConformance runs the WHATWG URL conformance data (WPT) through the sandbox's own
// URL and URLSearchParams classes, end to end: JS class, host call, Go parser. Every case
// must pass; the counts are in the README.
func TestURLConformance(t *testing.T) {
	load := func(name string) json.RawMessage {
		b, err := os.ReadFile(filepath.Join(wptDir, name))
		if err != nil {
			t.Fatalf("WPT data missing (CI lays shared/ beside the repo): %v", err)
		}
		return b
	}
	script, err := os.ReadFile("testdata/url_wpt.js")
	if err != nil {
		t.Fatal(err)
	}
	code := "globalThis.WPT = {urltestdata: " + string(load("urltestdata.json")) +
		", setters: " + string(load("setters_tests.json")) +
		", toascii: " + string(load("toascii.json")) +
		", percentEncoding: " + string(load("percent-encoding.json")) + "};\n" + string(script)
	var out string
	if err := json.Unmarshal(evalIn(t, engine.SandboxConfig{}, code), &out); err != nil {
		t.Fatal(err)
	}
	var res map[string]struct {
		Pass     int      `json:"pass"`
		Fail     int      `json:"fail"`
		Failures []string `json:"failures"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bad report %q: %v", out, err)
	}
	// Floors: the number of cases each file yields (README); a shrinking count means cases
	// stopped running.
	floors := map[string]int{"parse": 891, "setters": 278, "toascii": 261, "percentEncoding": 7}
	for part, floor := range floors {
		r, ok := res[part]
		if !ok {
			t.Errorf("%s: not run", part)
			continue
		}
		t.Logf("%s: %d passed, %d failed", part, r.Pass, r.Fail)
		if r.Fail != 0 || r.Pass < floor {
			t.Errorf("%s: %d passed (want >= %d), %d failed: %v", part, r.Pass, floor, r.Fail, r.Failures)
		}
	}
}
