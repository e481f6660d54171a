// Package npmtest is a registry for tests: real npm-style tarballs built from files in
// memory, served with npm's metadata shape by a real HTTP server on 127.0.0.1.
package npmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Entry is one tar entry for Pack; a regular file unless Type says otherwise.
type Entry struct {
	Name     string // the full name in the archive ("package/index.js")
	Body     []byte
	Type     byte   // tar.TypeReg when 0
	Linkname string // for links
	Size     int64  // when > 0, the header's size (for entries whose body is not given)
}

// Pack returns a gzip'd tar of files under package/, as `npm pack` writes it, and its
// sha512 integrity.
func Pack(files map[string]string) ([]byte, string) {
	var es []Entry
	for _, n := range slices.Sorted(maps.Keys(files)) {
		es = append(es, Entry{Name: "package/" + n, Body: []byte(files[n])})
	}
	return PackEntries(es)
}

// PackEntries packs raw entries (for hostile archives) and returns the tarball and its
// sha512 integrity.
func PackEntries(es []Entry) ([]byte, string) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range es {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := int64(len(e.Body))
		if e.Size > 0 {
			size = e.Size
		}
		if typ != tar.TypeReg {
			size = 0
		}
		h := &tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Linkname, Mode: 0o644, Size: size, ModTime: time.Unix(499162500, 0), Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if e.Size > 0 && typ == tar.TypeReg {
			chunk := make([]byte, 1<<20)
			for left := e.Size; left > 0; left -= int64(len(chunk)) {
				n := min(left, int64(len(chunk)))
				if _, err := tw.Write(chunk[:n]); err != nil {
					panic(err)
				}
			}
			continue
		}
		if _, err := tw.Write(e.Body); err != nil {
			panic(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes(), Integrity(buf.Bytes())
}

// Integrity is the sha512 SRI string of b.
func Integrity(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// Version is one published version of a package in the stub.
type Version struct {
	Files        map[string]string // package.json is written from the fields when absent
	Dependencies map[string]string
	Peer         map[string]string
	// Tarball, when set, is served instead of packing Files; Integrity, when set, is
	// advertised instead of the tarball's own.
	Tarball   []byte
	Integrity string
}

// Registry is a registry stub on 127.0.0.1.
type Registry struct {
	URL      string
	mu       sync.Mutex
	pkgs     map[string]map[string]Version
	tags     map[string]string // name -> latest
	requests atomic.Int64
	srv      *httptest.Server
}

// NewRegistry starts a registry that stops when the test ends.
func NewRegistry(t testing.TB) *Registry {
	r := Start()
	t.Cleanup(r.Close)
	return r
}

// Start starts a registry outside a test (isobox bench serves its bundle project from
// one); Close stops it.
func Start() *Registry {
	r := &Registry{pkgs: map[string]map[string]Version{}, tags: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/"
	return r
}

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }

// Requests counts the requests served so far.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// Add publishes a version (the first one added of a package is its "latest" unless
// Latest says otherwise).
func (r *Registry) Add(name, version string, v Version) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pkgs[name] == nil {
		r.pkgs[name] = map[string]Version{}
		r.tags[name] = version
	}
	if v.Files == nil {
		v.Files = map[string]string{}
	}
	if _, ok := v.Files["package.json"]; !ok {
		pj, _ := json.Marshal(map[string]any{"name": name, "version": version, "dependencies": v.Dependencies, "peerDependencies": v.Peer})
		v.Files["package.json"] = string(pj)
	}
	if v.Tarball == nil {
		v.Tarball, _ = Pack(v.Files)
	}
	if v.Integrity == "" {
		v.Integrity = Integrity(v.Tarball)
	}
	r.pkgs[name][version] = v
}

// Latest sets the "latest" dist-tag.
func (r *Registry) Latest(name, version string) {
	r.mu.Lock()
	r.tags[name] = version
	r.mu.Unlock()
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	p := strings.TrimPrefix(req.URL.EscapedPath(), "/")
	p = strings.ReplaceAll(strings.ReplaceAll(p, "%2F", "/"), "%2f", "/")
	r.mu.Lock()
	defer r.mu.Unlock()
	if name, file, ok := strings.Cut(p, "/-/"); ok {
		for ver, v := range r.pkgs[name] {
			if strings.HasSuffix(file, "-"+ver+".tgz") {
				w.Write(v.Tarball)
				return
			}
		}
		http.NotFound(w, req)
		return
	}
	vs, ok := r.pkgs[p]
	if !ok {
		http.NotFound(w, req)
		return
	}
	base := p[strings.LastIndexByte(p, '/')+1:]
	doc := map[string]any{"name": p, "dist-tags": map[string]string{"latest": r.tags[p]}}
	versions := map[string]any{}
	for ver, v := range vs {
		versions[ver] = map[string]any{
			"name": p, "version": ver, "dependencies": v.Dependencies, "peerDependencies": v.Peer,
			"dist": map[string]string{"tarball": r.URL + p + "/-/" + base + "-" + ver + ".tgz", "integrity": v.Integrity},
		}
	}
	doc["versions"] = versions
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}
