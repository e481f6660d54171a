package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// The app figure reads the anchor's app source and the hono version the anchor pins; an
// anchor folder without them is an error, not a figure of some other app.
func TestAppSource(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := AppSource(dir); err == nil {
		t.Fatal("an empty folder gave an app")
	}
	write("app/src.js", `export default { fetch() { return new Response("hi"); } };`)
	write("package.json", `{"dependencies": {"workerd": "1.0.0"}}`)
	if _, _, err := AppSource(dir); err == nil {
		t.Fatal("a package.json without hono gave an app")
	}
	write("package.json", `{"dependencies": {"hono": "4.13.19"}}`)
	src, hono, err := AppSource(dir)
	if err != nil || hono != "4.13.19" || len(src) == 0 {
		t.Fatalf("AppSource: %q, %q, %v", src, hono, err)
	}
}

// The app's bundles are cached where the engine's code is, and nowhere when the engine's
// cache is off: "off" is not a folder to make.
func TestBundleCacheDir(t *testing.T) {
	for _, tt := range [][2]string{{"", ""}, {"off", ""}, {"/var/cache/isobox", "/var/cache/isobox"}, {"offline", "offline"}} {
		if got := bundleCacheDir(tt[0]); got != tt[1] {
			t.Errorf("bundleCacheDir(%q) = %q, want %q", tt[0], got, tt[1])
		}
	}
}
