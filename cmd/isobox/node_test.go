package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isobox run --compatibility-flag nodejs_compat gives a file worker the Node built-ins
// (by import and by require, and process.env from --env); without it the error names the
// built-in and the flag.
func TestRunNodeCompat(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.js")
	if err := os.WriteFile(main, []byte(`import { Buffer } from "node:buffer";
import lib from "./lib.cjs";
export default { fetch() { return new Response(Buffer.from("hi").toString("hex") + " " + lib + " " + process.env.NAME) } };`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib.cjs"), []byte(`module.exports = require("util").format("%s-%d", "a", 1);`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := cli(t, "run", "--compatibility-flag", "nodejs_compat", "--env", "NAME=bob", main)
	if code != 0 || out != "6869 a-1 bob" {
		t.Fatalf("exit %d, out %q, stderr %q", code, out, errs)
	}
	_, errs, code = cli(t, "run", main)
	if code != 1 || !strings.Contains(errs, `"node:buffer", imported by "main.js", is a Node.js built-in module, not available in isobox without the nodejs_compat compatibility flag`) {
		t.Fatalf("without the flag: exit %d, stderr %q", code, errs)
	}
}
