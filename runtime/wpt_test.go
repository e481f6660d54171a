package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
)

// TestWPT runs the web-platform-tests' .any.js files of the folders ISOBOX_WPT_SUITES
// (default "streams urlpattern") of a WPT checkout at ISOBOX_WPT_DIR, each in its own
// sandbox through our testharness.js (testdata/wpt), and reports the subtests passed per
// file and in total. It is skipped without ISOBOX_WPT_DIR: the suites are not in this
// repository and no package registry serves them. It reports; it fails only when the
// harness itself cannot run.
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
		suites = []string{"streams", "urlpattern"}
	}
	meta := regexp.MustCompile(`(?m)^// META: script=(.+)$`)
	fetchJSON := regexp.MustCompile(`fetch(?:_json)?\(['"]([^'"]+\.json)['"]\)`)
	totals := map[string]int{}
	for _, suite := range suites {
		var files []string
		_ = filepath.WalkDir(filepath.Join(dir, suite), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".any.js") {
				files = append(files, p)
			}
			return nil
		})
		sort.Strings(files)
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f)
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parts := []string{string(shim)}
			resources := map[string]string{}
			addResources := func(script string) {
				for _, r := range fetchJSON.FindAllStringSubmatch(script, -1) {
					if data, err := os.ReadFile(filepath.Join(filepath.Dir(f), r[1])); err == nil {
						resources[r[1]] = string(data)
					}
				}
			}
			addResources(string(src))
			for _, m := range meta.FindAllStringSubmatch(string(src), -1) {
				p := filepath.Join(filepath.Dir(f), strings.TrimSpace(m[1]))
				if strings.HasPrefix(m[1], "/") { // from the checkout's root
					p = filepath.Join(dir, strings.TrimSpace(m[1]))
				}
				b, err := os.ReadFile(p)
				if err != nil {
					t.Logf("%s: META script %s: %v", rel, m[1], err)
					continue
				}
				parts = append(parts, string(b))
				addResources(string(b))
			}
			res, _ := json.Marshal(resources)
			code := "globalThis.__wptResources = " + string(res) + ";\n" + strings.Join(append(parts, string(src)), "\n;\n") + "\n;\nawait __wptRun();\n"
			passed, total, note := runWPTFile(t, code)
			totals["files"]++
			totals["passed"] += passed
			totals["subtests"] += total
			if note != "" {
				totals["errors"]++
			}
			t.Logf("%-70s %4d/%-4d %s", rel, passed, total, note)
		}
	}
	t.Logf("total: %d of %d subtests passed in %d files (%d files could not run)", totals["passed"], totals["subtests"], totals["files"], totals["errors"])
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
	res, err := sb.Eval(t.Context(), engine.Limits{CPU: 30e9, Wall: 120e9, Output: 64 << 20}, code)
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
