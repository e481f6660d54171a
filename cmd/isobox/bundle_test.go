package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/internal/npm/npmtest"
)

// `isobox bundle DIR` prints (or writes) the WorkerCode of a project with its package as
// a module of its own; `isobox run DIR` installs, bundles and calls it; errors name the
// file, line and column.
func TestBundleAndRunProject(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("@demo/greet", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"@demo/greet","version":"1.0.0","type":"module","exports":{"workerd":"./w.js","default":"./d.js"}}`,
		"w.js":         `export const greet = (n) => "hi " + n`,
		"d.js":         `export const greet = () => "wrong condition"`,
	}})
	dir := writeFiles(t, map[string]string{
		"package.json":                  `{"name":"app","dependencies":{"@demo/greet":"^1"}}`,
		"src/index.ts":                  `import { greet } from "@demo/greet"; export default { fetch(r: Request): Response { return new Response(greet(new URL(r.url).pathname.slice(1))) } }`,
		"node_modules/ignored/x.js":     `syntax error here (`,
		"node_modules/@demo/greet/w.js": `also ignored`,
	})
	out, errOut, code := cli(t, "bundle", "--npm-registry", reg.URL, dir)
	if code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, errOut)
	}
	var wc api.WorkerCode
	if err := json.Unmarshal([]byte(out), &wc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if wc.MainModule != "index.js" || len(wc.Modules) != 2 || wc.Modules["npm/@demo/greet@1.0.0/w.js"].Content == nil {
		t.Fatalf("bundle: %s", out)
	}
	file := filepath.Join(t.TempDir(), "w.json")
	if _, errOut, code := cli(t, "bundle", "-o", file, "--npm-registry", reg.URL, dir); code != 0 {
		t.Fatalf("bundle -o: %s", errOut)
	}
	if b, _ := os.ReadFile(file); string(b) != out {
		t.Fatalf("-o wrote %q", b)
	}

	out, errOut, code = cli(t, "run", "--npm-registry", reg.URL, "--url", "http://x/ann", dir)
	if code != 0 || out != "hi ann" {
		t.Fatalf("run DIR: exit %d, out %q, err %s", code, out, errOut)
	}

	bad := writeFiles(t, map[string]string{"package.json": `{}`, "index.ts": "export default {\n  x: 1 +\n}\n"})
	_, errOut, code = cli(t, "bundle", bad)
	if code != 1 || !strings.Contains(errOut, "bundle_failed: index.ts:3:1:") {
		t.Fatalf("syntax error: exit %d, %s", code, errOut)
	}
}
