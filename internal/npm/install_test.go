package npm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/internal/npm"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/isoerr"
)

func versions(t *npm.Tree) map[string]string {
	out := map[string]string{}
	for p, pk := range t.Packages {
		out[p] = pk.Version
	}
	return out
}

func install(t *testing.T, reg *npmtest.Registry, cache, manifest, lock string) (*npm.Tree, error) {
	t.Helper()
	c := npm.NewClient(npm.Config{Registry: reg.URL, CacheDir: cache}, nil)
	var lb []byte
	if lock != "" {
		lb = []byte(lock)
	}
	return c.Install(context.Background(), []byte(manifest), lb)
}

func TestInstallLayout(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("a", "1.0.0", npmtest.Version{})
	reg.Add("a", "1.4.2", npmtest.Version{})
	reg.Add("a", "2.0.0", npmtest.Version{})
	reg.Add("a", "2.1.0-beta.1", npmtest.Version{})
	reg.Latest("a", "1.4.2")
	// b needs a@2, which conflicts with the project's a@1: it is nested under b.
	reg.Add("b", "3.0.0", npmtest.Version{Dependencies: map[string]string{"a": "^2.0.0", "c": "~0.1.0"}})
	reg.Add("c", "0.1.5", npmtest.Version{})
	reg.Add("c", "0.2.0", npmtest.Version{})
	reg.Add("@scope/d", "1.0.0", npmtest.Version{Peer: map[string]string{"c": ">=0.1"}, Files: map[string]string{"index.js": "export const d = 1"}})
	reg.Add("e", "1.0.0", npmtest.Version{Peer: map[string]string{"a": "^1"}})

	tests := []struct {
		name, manifest string
		want           map[string]string
	}{
		{"caret picks latest tag in range", `{"dependencies":{"a":"^1.0.0"}}`, map[string]string{"node_modules/a": "1.4.2"}},
		{"exact", `{"dependencies":{"a":"1.0.0"}}`, map[string]string{"node_modules/a": "1.0.0"}},
		{"range above latest", `{"dependencies":{"a":">=2"}}`, map[string]string{"node_modules/a": "2.0.0"}},
		{"or range and x", `{"dependencies":{"a":"0.x || 2.x"}}`, map[string]string{"node_modules/a": "2.0.0"}},
		{"hyphen and spaces", `{"dependencies":{"a":">= 1.1.0 < 2"}}`, map[string]string{"node_modules/a": "1.4.2"}},
		{"dist tag", `{"dependencies":{"a":"latest"}}`, map[string]string{"node_modules/a": "1.4.2"}},
		{"nested conflict", `{"dependencies":{"a":"^1","b":"3"}}`, map[string]string{
			"node_modules/a": "1.4.2", "node_modules/b": "3.0.0", "node_modules/b/node_modules/a": "2.0.0", "node_modules/c": "0.1.5"}},
		{"scoped with peer", `{"dependencies":{"@scope/d":"^1"}}`, map[string]string{"node_modules/@scope/d": "1.0.0", "node_modules/c": "0.1.5"}},
		{"peer satisfied by the project", `{"dependencies":{"e":"1","a":"1.0.0"}}`, map[string]string{"node_modules/e": "1.0.0", "node_modules/a": "1.0.0"}},
		{"dev dependencies are not installed", `{"dependencies":{"a":"1.0.0"},"devDependencies":{"b":"3"}}`, map[string]string{"node_modules/a": "1.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := install(t, reg, "", tt.manifest, "")
			if err != nil {
				t.Fatal(err)
			}
			got := versions(tree)
			if len(got) != len(tt.want) {
				t.Fatalf("tree %v, want %v", got, tt.want)
			}
			for p, v := range tt.want {
				if got[p] != v {
					t.Fatalf("tree %v, want %v", got, tt.want)
				}
				if tree.Packages[p].Files["package.json"] == nil {
					t.Fatalf("%s has no files", p)
				}
			}
		})
	}
	// Lookup follows node's nearest node_modules.
	tree, err := install(t, reg, "", `{"dependencies":{"a":"^1","b":"3"}}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if v := tree.Lookup("node_modules/b", "a").Version; v != "2.0.0" {
		t.Fatalf("b sees a@%s", v)
	}
	if v := tree.Lookup("node_modules/b", "c").Version; v != "0.1.5" {
		t.Fatalf("b sees c@%s", v)
	}
	if v := tree.Lookup("", "a").Version; v != "1.4.2" {
		t.Fatalf("the project sees a@%s", v)
	}
}

func TestInstallHonoursLock(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("a", "1.0.0", npmtest.Version{})
	reg.Add("a", "1.4.2", npmtest.Version{})
	lock := func(v string) string {
		return `{"lockfileVersion":3,"packages":{"":{"dependencies":{"a":"^1"}},"node_modules/a":{"version":"` + v +
			`","resolved":"` + reg.URL + `a/-/a-` + v + `.tgz","integrity":"` + integrityOf(t, reg, "a", v) + `"},` +
			`"node_modules/tool":{"version":"9.0.0","dev":true}}}`
	}
	tree, err := install(t, reg, "", `{"dependencies":{"a":"^1"}}`, lock("1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !tree.FromLock || tree.Packages["node_modules/a"].Version != "1.0.0" || len(tree.Packages) != 1 {
		t.Fatalf("lock not honoured: %v (from lock %v)", versions(tree), tree.FromLock)
	}
	// A lock that no longer satisfies package.json is re-resolved, as npm install does.
	tree, err = install(t, reg, "", `{"dependencies":{"a":"1.4.2"}}`, lock("1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if tree.FromLock || tree.Packages["node_modules/a"].Version != "1.4.2" {
		t.Fatalf("stale lock used: %v", versions(tree))
	}
	// A lock's URL on another host is not followed: the tarball comes from the registry.
	elsewhere := strings.Replace(lock("1.0.0"), reg.URL, "http://127.0.0.1:1/", 1)
	tree, err = install(t, reg, "", `{"dependencies":{"a":"^1"}}`, elsewhere)
	if err != nil || tree.Packages["node_modules/a"].Files["package.json"] == nil {
		t.Fatalf("lock with a foreign URL: %v", err)
	}
}

// integrityOf reads the integrity the registry advertises for name@v.
func integrityOf(t *testing.T, reg *npmtest.Registry, name, v string) string {
	c := npm.NewClient(npm.Config{Registry: reg.URL}, nil)
	m, err := c.Metadata(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return m.Versions[v].Dist.Integrity
}

func TestInstallErrors(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("a", "1.0.0", npmtest.Version{})
	reg.Add("b", "1.0.0", npmtest.Version{Dependencies: map[string]string{"ghost": "^1"}})
	tests := []struct{ name, manifest, want string }{
		{"missing package", `{"dependencies":{"nope":"^1"}}`, `package "nope" does not exist`},
		{"missing version", `{"dependencies":{"a":"^7.1"}}`, `no version of a matches "^7.1"`},
		{"missing transitive", `{"dependencies":{"b":"1"}}`, `package "ghost" does not exist in the registry ` + reg.URL + ` (ghost "^1", needed by b@1.0.0)`},
		{"missing version names its dependent", `{"dependencies":{"a":"^7.1"}}`, `(a "^7.1", needed by the project)`},
		{"git dependency", `{"dependencies":{"a":"github:x/a"}}`, "not a registry version range"},
		{"alias", `{"dependencies":{"a":"npm:b@1"}}`, "not a registry version range"},
		{"bad range", `{"dependencies":{"a":"^^1"}}`, "not a version range"},
		{"bad name", `{"dependencies":{"../etc":"1"}}`, "invalid package name"},
		{"bad json", `{`, "package.json is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := install(t, reg, "", tt.manifest, "")
			// The message of the first isoerr.Error is what the server answers with.
			if e := isoerr.As(err); e == nil || e.Code != isoerr.BundleFailed || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("err %v, want bundle_failed with %q", err, tt.want)
			}
		})
	}
}

// A package the registry does not have is asked for once: the level's parallel prefetch
// saw it fail, and the install reports that error instead of asking again (a registry that
// times out would otherwise make the error take twice as long).
func TestMissingPackageAskedOnce(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("a", "1.0.0", npmtest.Version{})
	before := reg.Requests()
	_, err := install(t, reg, "", `{"dependencies":{"a":"1","nope":"^1"}}`, "")
	if e := isoerr.As(err); e == nil || !strings.Contains(e.Message, `package "nope" does not exist`) {
		t.Fatalf("err %v, want the missing package named", err)
	}
	// a's metadata and nope's 404; nothing is downloaded after a failed resolution.
	if n := reg.Requests() - before; n != 2 {
		t.Fatalf("%d registry requests, want 2 (one per package)", n)
	}
}

func TestHostileTarballs(t *testing.T) {
	ok := func(name string) npmtest.Entry {
		return npmtest.Entry{Name: name, Body: []byte(`{"name":"h","version":"1.0.0"}`)}
	}
	many := []npmtest.Entry{ok("package/package.json")}
	for i := range 30 {
		many = append(many, npmtest.Entry{Name: "package/f" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".js", Body: []byte("x")})
	}
	tests := []struct {
		name    string
		entries []npmtest.Entry
		badSum  bool
		want    string
	}{
		{"traversal", []npmtest.Entry{ok("package/package.json"), {Name: "package/../../evil.js", Body: []byte("x")}}, false, "climbs out"},
		{"absolute", []npmtest.Entry{ok("package/package.json"), {Name: "/etc/evil", Body: []byte("x")}}, false, "absolute"},
		{"symlink out", []npmtest.Entry{ok("package/package.json"), {Name: "package/l", Type: tar.TypeSymlink, Linkname: "/etc/passwd"}}, false, "is a link"},
		{"hard link", []npmtest.Entry{ok("package/package.json"), {Name: "package/l", Type: tar.TypeLink, Linkname: "package/package.json"}}, false, "is a link"},
		{"fifo", []npmtest.Entry{ok("package/package.json"), {Name: "package/p", Type: tar.TypeFifo}}, false, "not a regular file"},
		{"huge entry", []npmtest.Entry{ok("package/package.json"), {Name: "package/big.js", Size: 3 << 20}}, false, "limit per file"},
		{"too many files", many, false, "more than 20 files"},
		{"too deep", []npmtest.Entry{ok("package/package.json"), {Name: "package/" + strings.Repeat("d/", 10) + "x.js", Body: []byte("x")}}, false, "folders deep"},
		{"long path", []npmtest.Entry{ok("package/package.json"), {Name: "package/" + strings.Repeat("n", 300), Body: []byte("x")}}, false, "bytes long"},
		{"no package.json", []npmtest.Entry{{Name: "package/index.js", Body: []byte("x")}}, false, "no package.json"},
		{"bad integrity", []npmtest.Entry{ok("package/package.json")}, true, "does not match its integrity"},
		// Each file under the per-file limit, together over the package's (a gzip bomb:
		// 600 KB of zeros in a few KB).
		{"unpacks too large", []npmtest.Entry{ok("package/package.json"), {Name: "package/a.js", Size: 200 << 10}, {Name: "package/b.js", Size: 200 << 10}, {Name: "package/c.js", Size: 200 << 10}}, false, "the files total more than 524288 bytes"},
		{"huge tarball", []npmtest.Entry{ok("package/package.json"), {Name: "package/noise.bin", Body: noise(48 << 10)}}, false, "over the limit of 32768 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := npmtest.NewRegistry(t)
			tgz, _ := npmtest.PackEntries(tt.entries)
			v := npmtest.Version{Tarball: tgz}
			if tt.badSum {
				other, _ := npmtest.Pack(map[string]string{"package.json": "{}"})
				v.Integrity = npmtest.Integrity(other)
			}
			reg.Add("h", "1.0.0", v)
			cache := t.TempDir()
			c := npm.NewClient(npm.Config{Registry: reg.URL, CacheDir: cache, Limits: npm.Limits{FileBytes: 1 << 20, Files: 20, PathDepth: 8, PathLength: 200, UnpackedBytes: 512 << 10, TarballBytes: 32 << 10}}, nil)
			_, err := c.Install(context.Background(), []byte(`{"dependencies":{"h":"1"}}`), nil)
			if isoerr.CodeOf(err) != isoerr.BundleFailed || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want bundle_failed with %q", err, tt.want)
			}
			if got, _ := filepath.Glob(filepath.Join(cache, "npm", "tarballs", "*")); len(got) != 0 {
				t.Fatalf("a refused tarball was cached: %v", got)
			}
		})
	}
}

// The packages of one install together are bounded, not only each one.
func TestInstallBytesLimit(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	big := strings.Repeat("x", 600<<10)
	reg.Add("a", "1.0.0", npmtest.Version{Files: map[string]string{"a.js": big}})
	reg.Add("b", "1.0.0", npmtest.Version{Files: map[string]string{"b.js": big}})
	c := npm.NewClient(npm.Config{Registry: reg.URL, Limits: npm.Limits{InstallBytes: 1 << 20}}, nil)
	_, err := c.Install(context.Background(), []byte(`{"dependencies":{"a":"1","b":"1"}}`), nil)
	if isoerr.CodeOf(err) != isoerr.BundleFailed || !strings.Contains(err.Error(), "unpack to more than 1048576 bytes") {
		t.Fatalf("err %v", err)
	}
	if _, err := c.Install(context.Background(), []byte(`{"dependencies":{"a":"1"}}`), nil); err != nil {
		t.Fatalf("one package within the limit: %v", err)
	}
}

func TestCaches(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("a", "1.0.0", npmtest.Version{Files: map[string]string{"index.js": "export default 1"}})
	cache := t.TempDir()
	if _, err := install(t, reg, cache, `{"dependencies":{"a":"1"}}`, ""); err != nil {
		t.Fatal(err)
	}
	first := reg.Requests()
	if first != 2 {
		t.Fatalf("first install made %d requests, want metadata + tarball", first)
	}
	// A new client (a new process) finds both on disk.
	tree, err := install(t, reg, cache, `{"dependencies":{"a":"1"}}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests() - first; n != 0 {
		t.Fatalf("second install made %d requests", n)
	}
	if string(tree.Packages["node_modules/a"].Files["index.js"]) != "export default 1" {
		t.Fatal("cached tarball lost its files")
	}
	// A tarball corrupted on disk is refetched, not used.
	files, _ := filepath.Glob(filepath.Join(cache, "npm", "tarballs", "*"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v", files)
	}
	os.WriteFile(files[0], []byte("garbage"), 0o644)
	if _, err := install(t, reg, cache, `{"dependencies":{"a":"1"}}`, ""); err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests() - first; n != 1 {
		t.Fatalf("corrupted cache: %d requests, want the tarball again", n)
	}
	// Metadata older than the TTL is fetched again (and a version published since is
	// seen); the tarball of an unchanged version still comes from the cache.
	reg.Add("a", "1.1.0", npmtest.Version{Files: map[string]string{"index.js": "export default 2"}})
	reg.Latest("a", "1.1.0")
	before := reg.Requests()
	c := npm.NewClient(npm.Config{Registry: reg.URL, CacheDir: cache, MetadataTTL: time.Nanosecond}, nil)
	tree, err = c.Install(context.Background(), []byte(`{"dependencies":{"a":"1"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests() - before; n < 2 || tree.Packages["node_modules/a"].Version != "1.1.0" || string(tree.Packages["node_modules/a"].Files["index.js"]) != "export default 2" {
		t.Fatalf("expired metadata: %d requests (want the metadata and the new tarball), a@%s", n, tree.Packages["node_modules/a"].Version)
	}
}

func TestRegistryConfig(t *testing.T) {
	env := map[string]string{"TOKEN": "s3cret"}
	getenv := func(k string) string { return env[k] }
	rc := []byte("# comment\nregistry=https://npm.example.com/r\n//npm.example.com/r/:_authToken=${TOKEN}\n")
	r, tok := npm.RegistryConfig("", rc, getenv)
	if r != "https://npm.example.com/r/" || tok != "s3cret" {
		t.Fatalf("from .npmrc: %q %q", r, tok)
	}
	env["ISOBOX_NPM_REGISTRY"] = "http://127.0.0.1:1/"
	if r, tok = npm.RegistryConfig("", rc, getenv); r != "http://127.0.0.1:1/" || tok != "" {
		t.Fatalf("env wins, and the token is for another host: %q %q", r, tok)
	}
	if r, _ = npm.RegistryConfig("https://flag.example/", rc, getenv); r != "https://flag.example/" {
		t.Fatalf("flag wins: %q", r)
	}
	// Callers pass a nil getenv for the process environment (the server, Code Mode).
	if r, _ = npm.RegistryConfig("https://flag.example/", nil, nil); r != "https://flag.example/" {
		t.Fatalf("nil getenv: %q", r)
	}
}

// noise is n bytes that gzip cannot shrink.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// A registry that stops answering, before its headers or in the middle of a body, is cut
// off at the download time limit with a bundle_failed naming the package; nothing is
// cached. The stub never answers: the limit is what ends the wait.
func TestDownloadTimeLimit(t *testing.T) {
	tgz, integrity := npmtest.Pack(map[string]string{"package.json": `{"name":"slow","version":"1.0.0"}`})
	for _, c := range []struct{ name, stall, want string }{
		{"metadata never answers", "meta-headers", `fetching the metadata of "slow": no answer within 200ms`},
		{"metadata body stalls", "meta-body", `fetching the metadata of "slow": no complete answer within 200ms`},
		{"tarball never answers", "tgz-headers", `downloading slow@1.0.0: no answer within 200ms`},
		{"tarball body stalls", "tgz-body", `downloading slow@1.0.0: no complete answer within 200ms`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tarball := strings.HasSuffix(r.URL.Path, ".tgz")
				kind := "meta-"
				if tarball {
					kind = "tgz-"
				}
				if c.stall == kind+"headers" {
					<-r.Context().Done()
					return
				}
				body := tgz
				if !tarball {
					body = []byte(`{"name":"slow","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"slow","version":"1.0.0","dist":{"tarball":"` +
						srv.URL + `/slow/-/slow-1.0.0.tgz","integrity":"` + integrity + `"}}}}`)
				}
				if c.stall == kind+"body" {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					w.Write(body[:len(body)/2])
					w.(http.Flusher).Flush()
					<-r.Context().Done()
					return
				}
				w.Write(body)
			}))
			defer srv.Close()
			cache := t.TempDir()
			cl := npm.NewClient(npm.Config{Registry: srv.URL, CacheDir: cache, Limits: npm.Limits{Download: 200 * time.Millisecond}}, nil)
			_, err := cl.Install(context.Background(), []byte(`{"dependencies":{"slow":"1"}}`), nil)
			if e := isoerr.As(err); e == nil || e.Code != isoerr.BundleFailed || !strings.Contains(e.Message, c.want) {
				t.Fatalf("err %v, want bundle_failed with %q", err, c.want)
			}
			if got, _ := filepath.Glob(filepath.Join(cache, "npm", "tarballs", "*")); len(got) != 0 {
				t.Fatalf("a tarball cut off was cached: %v", got)
			}
		})
	}
}

// The registry's token goes to the registry's host only: not to a host its metadata sends
// the tarball download to.
func TestTokenOnlyToRegistry(t *testing.T) {
	tgz, integrity := npmtest.Pack(map[string]string{"package.json": `{"name":"p","version":"1.0.0"}`})
	var mu sync.Mutex
	seen := map[string]string{} // "registry" / "elsewhere" -> Authorization
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["elsewhere"] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Write(tgz)
	}))
	defer elsewhere.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["registry"] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Write([]byte(`{"name":"p","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"p","version":"1.0.0","dist":{"tarball":"` +
			elsewhere.URL + `/p-1.0.0.tgz","integrity":"` + integrity + `"}}}}`))
	}))
	defer reg.Close()
	c := npm.NewClient(npm.Config{Registry: reg.URL, Token: "s3cret"}, nil)
	if _, err := c.Install(context.Background(), []byte(`{"dependencies":{"p":"1"}}`), nil); err != nil {
		t.Fatal(err)
	}
	if seen["registry"] != "Bearer s3cret" || seen["elsewhere"] != "" {
		t.Fatalf("Authorization: registry %q, tarball host %q", seen["registry"], seen["elsewhere"])
	}
}

// A package of a scope that .npmrc sends to a registry of its own is refused, naming both
// registries, before anything is asked of the configured one (which would answer with
// whatever someone published there under that name); from a lock too. A scope sent to the
// configured registry itself installs.
func TestForeignScopeRefused(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("@acme/util", "1.0.0", npmtest.Version{})
	rc := []byte("@acme:registry=https://npm.acme.example/\n@other:registry=" + reg.URL + "\n")
	scopes := npm.ScopeRegistries(rc, func(string) string { return "" })
	if scopes["@acme"] != "https://npm.acme.example/" || scopes["@other"] != reg.URL {
		t.Fatalf("scopes %v", scopes)
	}
	c := npm.NewClient(npm.Config{Registry: reg.URL, Scopes: scopes}, nil)
	want := "package @acme/util: .npmrc sends the @acme scope to https://npm.acme.example/, and isobox installs from one registry, " + reg.URL
	lock := `{"lockfileVersion":3,"packages":{"node_modules/@acme/util":{"version":"1.0.0","integrity":"` + integrityOf(t, reg, "@acme/util", "1.0.0") + `"}}}`
	before := reg.Requests()
	for _, l := range []string{"", lock} {
		var lb []byte
		if l != "" {
			lb = []byte(l)
		}
		_, err := c.Install(context.Background(), []byte(`{"dependencies":{"@acme/util":"1"}}`), lb)
		if e := isoerr.As(err); e == nil || e.Code != isoerr.BundleFailed || !strings.Contains(e.Message, want) {
			t.Fatalf("lock %v: err %v, want %q", l != "", err, want)
		}
	}
	if n := reg.Requests() - before; n != 0 {
		t.Fatalf("%d requests for a refused scope", n)
	}
	c = npm.NewClient(npm.Config{Registry: reg.URL, Scopes: map[string]string{"@acme": reg.URL}}, nil)
	if _, err := c.Install(context.Background(), []byte(`{"dependencies":{"@acme/util":"1"}}`), nil); err != nil {
		t.Fatalf("a scope sent to the configured registry: %v", err)
	}
}

// An archive whose entry header claims more bytes than follow is refused as truncated.
func TestTruncatedEntry(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	tw.Write([]byte("{}"))
	tw.WriteHeader(&tar.Header{Name: "package/big.js", Typeflag: tar.TypeReg, Mode: 0o644, Size: 900 << 10})
	tw.Flush()
	raw := append(tb.Bytes(), make([]byte, 1000)...) // 1000 of the 921,600 bytes claimed
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	_, err := npm.Unpack("t@1.0.0", gz.Bytes(), npm.Limits{})
	if e := isoerr.As(err); e == nil || e.Code != isoerr.BundleFailed || !strings.Contains(e.Message, `entry "package/big.js" is truncated`) {
		t.Fatalf("err %v", err)
	}
}
