package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
)

// TestWPT runs the web-platform-tests' .any.js files of the folders ISOBOX_WPT_SUITES
// (default "WebCryptoAPI streams urlpattern", tentative files such as the Ed448/X448 ones
// included) of a WPT checkout at ISOBOX_WPT_DIR, each in its own
// sandbox through our testharness.js (testdata/wpt), and reports the subtests passed per
// file and in total. It is skipped without ISOBOX_WPT_DIR: the suites are not in this
// repository and no package registry serves them. It reports; it fails only when the
// harness itself cannot run.
//
// With ISOBOX_WPT_DENO (a deno binary) each file's same script, shim included, also runs
// under Deno, and both counts are reported side by side: the comparison the README quotes
// (tools/wpt/run.sh). ISOBOX_WPT_FILES (a regular expression) keeps only the files whose
// path matches it, e.g. "448" for the Ed448/X448 files.
//
//	ISOBOX_WPT_DIR=~/wpt go test ./runtime -run TestWPT -v
func TestWPT(t *testing.T) {
	dir := os.Getenv("ISOBOX_WPT_DIR")
	if dir == "" {
		t.Skip("ISOBOX_WPT_DIR is not set (a web-platform-tests checkout)")
	}
	shim, err := os.ReadFile("testdata/wpt/testharness.js")
	if err != nil {
		t.Fatal(err)
	}
	suites := strings.Fields(os.Getenv("ISOBOX_WPT_SUITES"))
	if len(suites) == 0 {
		suites = wptSuites
	}
	deno := os.Getenv("ISOBOX_WPT_DENO")
	only, err := regexp.Compile(os.Getenv("ISOBOX_WPT_FILES"))
	if err != nil {
		t.Fatalf("ISOBOX_WPT_FILES: %v", err)
	}
	totals := map[string]int{}
	for _, suite := range suites {
		st := map[string]int{}
		for _, f := range wptFiles(dir, suite, only) {
			rel, _ := filepath.Rel(dir, f)
			script, missing, err := wptScript(dir, f, shim)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range missing {
				t.Logf("%s: META script %s", rel, m)
			}
			passed, total, note := runWPTFile(t, script+"await __wptRun();\n")
			for _, m := range []map[string]int{totals, st} {
				m["files"]++
				m["passed"] += passed
				m["subtests"] += total
				if note != "" {
					m["errors"]++
				}
			}
			if deno == "" {
				t.Logf("%-70s %4d/%-4d %s", rel, passed, total, note)
				continue
			}
			dp, dt, dnote := runWPTFileDeno(t, deno, script)
			for _, m := range []map[string]int{totals, st} {
				m["deno passed"] += dp
				m["deno subtests"] += dt
				if dnote != "" {
					m["deno errors"]++
				}
			}
			t.Logf("%-70s isobox %4d/%-4d deno %4d/%-4d %s %s", rel, passed, total, dp, dt, note, dnote)
		}
		logWPTTotals(t, suite, st, deno != "")
	}
	logWPTTotals(t, "total", totals, deno != "")
}

// wptSuites are the WPT folders isobox reports on (README, Streams, web-platform-tests).
var wptSuites = []string{"WebCryptoAPI", "streams", "urlpattern"}

// wptFiles lists a suite's .any.js files (tentative ones too) whose path within the
// checkout (slash-separated) matches only, sorted.
func wptFiles(dir, suite string, only *regexp.Regexp) []string {
	var files []string
	_ = filepath.WalkDir(filepath.Join(dir, suite), func(p string, d os.DirEntry, err error) error {
		// The filter sees the path within the checkout, not where the checkout lies: a
		// checkout (or a test's temporary folder) whose path holds "448" is not all Ed448.
		rel, _ := filepath.Rel(dir, p)
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".any.js") && only.MatchString(filepath.ToSlash(rel)) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

var (
	wptMeta      = regexp.MustCompile(`(?m)^// META: script=(.+)$`)
	wptFetchJSON = regexp.MustCompile(`fetch(?:_json)?\(['"]([^'"]+\.json)['"]\)`)
)

// wptScript builds the one script a WPT file runs as (without the final `await
// __wptRun()`): the JSON resources it fetches, our harness shim, its META scripts (relative
// to the file, or to the checkout's root when they start with "/") and the file itself.
// missing lists META scripts that could not be read (the file runs without them).
func wptScript(dir, f string, shim []byte) (script string, missing []string, err error) {
	src, err := os.ReadFile(f)
	if err != nil {
		return "", nil, err
	}
	parts := []string{string(shim)}
	resources := map[string]string{}
	addResources := func(script string) {
		for _, r := range wptFetchJSON.FindAllStringSubmatch(script, -1) {
			if data, err := os.ReadFile(filepath.Join(filepath.Dir(f), r[1])); err == nil {
				resources[r[1]] = string(data)
			}
		}
	}
	addResources(string(src))
	for _, m := range wptMeta.FindAllStringSubmatch(string(src), -1) {
		name := strings.TrimSpace(m[1])
		p := filepath.Join(filepath.Dir(f), name)
		if strings.HasPrefix(name, "/") { // from the checkout's root
			p = filepath.Join(dir, name)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		parts = append(parts, string(b))
		addResources(string(b))
	}
	res, _ := json.Marshal(resources)
	return "globalThis.__wptResources = " + string(res) + ";\n" + strings.Join(append(parts, string(src)), "\n;\n") + "\n;\n", missing, nil
}

func logWPTTotals(t *testing.T, what string, m map[string]int, deno bool) {
	t.Logf("%s: isobox %d of %d subtests passed in %d files (%d files could not run)", what, m["passed"], m["subtests"], m["files"], m["errors"])
	if deno {
		t.Logf("%s: deno   %d of %d subtests passed in %d files (%d files could not run)", what, m["deno passed"], m["deno subtests"], m["files"], m["deno errors"])
	}
}

// runWPTFileDeno runs one file's script (without its closing `await __wptRun()`) under
// Deno the way isobox's eval runs it, as a sloppy-mode global script (an indirect eval),
// then runs the harness and reads its results from stdout. Only the transport differs:
// unhandled rejections and uncaught errors are kept from ending the process, as isobox
// keeps them from ending an eval.
func runWPTFileDeno(t *testing.T, deno, script string) (passed, total int, note string) {
	t.Helper()
	lit, _ := json.Marshal(script)
	const marker = "\x00wpt-results:"
	driver := `addEventListener("unhandledrejection", (e) => e.preventDefault());
addEventListener("error", (e) => e.preventDefault());
(0, eval)(` + string(lit) + `);
const r = await __wptRun();
console.log(` + strconvQuote(marker) + ` + JSON.stringify(r));
Deno.exit(0);
`
	f := filepath.Join(t.TempDir(), "wpt.js")
	if err := os.WriteFile(f, []byte(driver), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, deno, "run", "--quiet", "--no-prompt", "--no-config", f).Output()
	_, after, ok := strings.Cut(string(out), marker)
	if !ok {
		return 0, 0, fmt.Sprintf("deno: not run: %v", err)
	}
	var res struct {
		Results []struct{ Name, Status, Message string }
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(after)), &res); err != nil {
		return 0, 0, fmt.Sprintf("deno: bad result: %v", err)
	}
	for _, r := range res.Results {
		total++
		if r.Status == "PASS" {
			passed++
		} else if testing.Verbose() {
			t.Logf("    deno %s %s: %s", r.Status, r.Name, firstLine(r.Message))
		}
	}
	return passed, total, ""
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// runWPTFile runs one file's script: the subtests passed and run, or why none ran. With
// -v each subtest that did not pass is logged.
func runWPTFile(t *testing.T, code string) (passed, total int, note string) {
	t.Helper()
	sb, err := testEngine.NewSandbox(t.Context(), engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(t.Context())
	res, err := sb.Eval(t.Context(), engine.Limits{CPU: 30e9, Wall: 600e9, Output: 64 << 20}, code)
	if err != nil {
		return 0, 0, "not run: " + firstLine(err.Error())
	}
	var out struct {
		Results []struct{ Name, Status, Message string }
	}
	if err := json.Unmarshal(res.Value, &out); err != nil {
		return 0, 0, fmt.Sprintf("bad result: %v", err)
	}
	for _, r := range out.Results {
		total++
		if r.Status == "PASS" {
			passed++
		} else if testing.Verbose() {
			t.Logf("    %s %s: %s", r.Status, r.Name, firstLine(r.Message))
		}
	}
	return passed, total, ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
