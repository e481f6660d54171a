package loader_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
)

// fsOpsWorker drives the state operations of env.FS beyond the filesystem calls.
const fsOpsWorker = `
import { env } from "cloudflare:workers";
const code = (p) => p.then(() => "ok", (e) => e.code + (e instanceof Error ? "" : "!"));
export default {
  async state(fs) {
    const FS = env[fs];
    await FS.writeFile("src/a.ts", "const a = 1; // TODO\nexport { a };\n");
    await FS.writeFile("src/b.ts", "// todo later\nconst b = 2;\n");
    await FS.writeJson("package.json", { name: "app", scripts: { build: "tsc" } });
    const info = await FS.stat("package.json");
    const search = await FS.searchText("todo", { caseSensitive: false, contextLines: 1 });
    const files = await FS.searchFiles("*.ts");
    const dry = await FS.replaceInFiles("src/*.ts", "const", "let", { dryRun: true });
    const afterDry = await FS.readFile("src/a.ts");
    const replaced = await FS.replaceInFiles("src/*.ts", "const", "let");
    const one = await FS.replaceInFile("src/b.ts", "(\\w+) = (\\d)", "$2 = $1", { regex: true });
    const upd = await FS.updateJson("package.json", { op: "set", path: "scripts.test", value: "vitest" }, { ifMatch: info.etag });
    await FS.createArchive(["src", "package.json"], "out/app.tgz");
    const ex = await FS.extractArchive("out/app.tgz", "copy");
    return {
      search: search.matches.map((m) => m.path + ":" + m.line + ":" + m.column + ":" + m.after.join("|")),
      files: files.files.map((f) => f.path),
      dry: [dry.dryRun, dry.replacements, afterDry],
      replaced: [replaced.replacements, replaced.files[0].preview.includes("-const a = 1;")],
      one: [one.count, await FS.readFile("src/b.ts")],
      build: await FS.queryJson("package.json", "scripts.build"),
      test: await FS.queryJson("copy/package.json", "scripts.test"),
      missing: await FS.queryJson("package.json", "nope"),
      stale: await code(FS.updateJson("package.json", { op: "delete", path: "name" }, { ifMatch: info.etag })),
      updEtag: typeof upd.etag,
      extracted: [ex.files, ex.directories],
      diff: await FS.diff("src/a.ts", "copy/src/a.ts"),
      diffText: await FS.diffText("src/a.ts", "let a = 1; // TODO\n"),
      hash: await FS.hashFile("copy/src/a.ts"),
      md5: await FS.hashFile("copy/src/a.ts", "md5"),
      badRegex: await code(FS.searchText("(", { regex: true })),
      evil: await code(FS.extractArchive("evil.tgz", "x")),
      badArg: await code(FS.searchText(42)),
    };
  },
  async readOnly(fs) {
    const FS = env[fs];
    return [
      await code(FS.replaceInFiles("**", "a", "b")),
      (await FS.replaceInFiles("**", "hello", "bye", { dryRun: true })).replacements,
      await code(FS.updateJson("c.json", { op: "set", path: "a", value: 1 })),
      await code(FS.extractArchive("x.tgz", "/")),
      await code(FS.createArchive("/", "x.tgz")),
      await FS.readFile("a.txt"),
    ];
  },
};
`

func TestFSBindingStateOps(t *testing.T) {
	l, st := fsLoader(t)
	ctx := context.Background()
	// An archive that climbs out of its directory, for extractArchive to refuse.
	var evil strings.Builder
	if err := tgzOf(&evil, map[string]string{"../../escape.txt": "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, "proj", "evil.tgz", strings.NewReader(evil.String()), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := code(fsOpsWorker)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}}
	stub := l.Get("fsops", func() (loader.WorkerCode, error) { return c, nil })
	_, got := call(t, stub, "state", `["FS"]`)
	var r map[string]any
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	want := map[string]string{
		"search":    `["/src/a.ts:1:17:export { a };","/src/b.ts:1:4:const b = 2;"]`,
		"files":     `["/src/a.ts","/src/b.ts"]`,
		"dry":       `[true,2,"const a = 1; // TODO\nexport { a };\n"]`,
		"replaced":  `[2,true]`,
		"one":       `[1,"// todo later\nlet 2 = b;\n"]`,
		"build":     `"tsc"`,
		"test":      `"vitest"`,
		"stale":     `"precondition_failed"`,
		"updEtag":   `"string"`,
		"extracted": `[3,1]`,
		"diff":      `""`,
		"diffText":  `"--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1,2 +1 @@\n let a = 1; // TODO\n-export { a };\n"`,
		"badRegex":  `"invalid_request"`,
		"evil":      `"invalid_request"`,
		"badArg":    `undefined!`,
	}
	sum, err := st.HashFile(ctx, "proj", "src/a.ts", "sha256")
	if err != nil {
		t.Fatal(err)
	}
	want["hash"] = jsonOf(sum)
	for k, w := range want {
		if k == "badArg" {
			continue
		}
		if g := jsonOf(r[k]); g != w {
			t.Errorf("%s = %s, want %s", k, g, w)
		}
	}
	if _, ok := r["missing"]; ok {
		t.Errorf("queryJson of a missing key = %v, want undefined", r["missing"])
	}
	if md5, _ := r["md5"].(string); len(md5) != 32 {
		t.Errorf("md5 = %v", r["md5"])
	}
	if g, _ := r["badArg"].(string); !strings.HasPrefix(g, "undefined") { // a TypeError: no code
		t.Errorf("searchText(42) = %v", r["badArg"])
	}
	if _, err := st.Stat(ctx, "proj", "escape.txt"); err == nil {
		t.Error("the hostile archive wrote escape.txt")
	}
}

func TestFSBindingStateOpsReadOnly(t *testing.T) {
	l, st := fsLoader(t)
	ctx := context.Background()
	if _, err := st.Write(ctx, "shared", "a.txt", strings.NewReader("hello"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := code(fsOpsWorker)
	c.Bindings = map[string]api.Binding{"RO": {Workspace: "shared", ReadOnly: true}}
	stub := l.Get("fsops-ro", func() (loader.WorkerCode, error) { return c, nil })
	if _, got := call(t, stub, "readOnly", `["RO"]`); got != `["read_only",1,"read_only","read_only","read_only","hello"]` {
		t.Fatalf("through a read-only binding: %s", got)
	}
}

// tgzOf writes files as a tar.gz.
func tgzOf(w io.Writer, files map[string]string) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
