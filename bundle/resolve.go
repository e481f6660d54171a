package bundle

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/isobox/isobox/internal/npm"
)

// The virtual file system the resolver works on. The project's files are under appRoot;
// a package's files under /npm/<name>@<version>/, whatever its place in node_modules, so
// that everything derived from a package (esbuild's comments, module names) is the same
// for the same version in every project.
const (
	appRoot = "/app"
	npmRoot = "/npm"
)

// vfs is a project and its installed packages.
type vfs struct {
	app  map[string][]byte // project files by path relative to the project
	tree *npm.Tree
	// byID maps name@version to its package (the first by tree path when a version is
	// installed twice: the same bytes).
	byID map[string]*npm.Package
	// manifests caches parsed package.json files by package id (esbuild resolves
	// concurrently: mu guards it).
	mu        sync.Mutex
	manifests map[string]*pkgJSON
	root      *pkgJSON
}

// pkgJSON is the part of a package.json that resolving reads.
type pkgJSON struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Type    string            `json:"type"`
	Main    string            `json:"main"`
	Module  string            `json:"module"`
	Browser json.RawMessage   `json:"browser"`
	Exports json.RawMessage   `json:"exports"`
	Imports json.RawMessage   `json:"imports"`
	Deps    map[string]string `json:"dependencies"`
	// browserMap is Browser when it is an object: file or package -> replacement, or
	// false for an empty module.
	browserMap map[string]any
	DevDeps    map[string]string `json:"devDependencies"`
}

func newVFS(app map[string][]byte, tree *npm.Tree) *vfs {
	v := &vfs{app: app, tree: tree, byID: map[string]*npm.Package{}, manifests: map[string]*pkgJSON{}}
	if tree != nil {
		paths := make([]string, 0, len(tree.Packages))
		for p := range tree.Packages {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			pk := tree.Packages[p]
			if _, ok := v.byID[pk.ID()]; !ok {
				v.byID[pk.ID()] = pk
			}
		}
	}
	v.root = &pkgJSON{}
	if b, ok := app["package.json"]; ok {
		_ = json.Unmarshal(b, v.root)
	}
	return v
}

// owner is what a vfs path belongs to: "" for the project, else the package's name@version.
func owner(p string) string {
	rest, ok := strings.CutPrefix(p, npmRoot+"/")
	if !ok {
		return ""
	}
	parts := strings.SplitN(rest, "/", 3)
	if strings.HasPrefix(parts[0], "@") && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// pkgDir is the vfs folder of a package or of the project.
func pkgDir(id string) string {
	if id == "" {
		return appRoot
	}
	return npmRoot + "/" + id
}

// read returns a file of the vfs.
func (v *vfs) read(p string) ([]byte, bool) {
	if rel, ok := strings.CutPrefix(p, appRoot+"/"); ok {
		b, ok := v.app[rel]
		return b, ok
	}
	id := owner(p)
	pk := v.byID[id]
	if pk == nil {
		return nil, false
	}
	rel := strings.TrimPrefix(p, pkgDir(id)+"/")
	b, ok := pk.Files[rel]
	return b, ok
}

func (v *vfs) isFile(p string) bool {
	_, ok := v.read(p)
	return ok
}

// manifest returns the package.json of a package (or of the project for "").
func (v *vfs) manifest(id string) *pkgJSON {
	if id == "" {
		return v.root
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if m, ok := v.manifests[id]; ok {
		return m
	}
	m := &pkgJSON{}
	if b, ok := v.read(pkgDir(id) + "/package.json"); ok {
		_ = json.Unmarshal(b, m)
		_ = json.Unmarshal(m.Browser, &m.browserMap)
	}
	v.manifests[id] = m
	return m
}

// treeDir is where a package sits in node_modules ("" for the project), the folder its
// bare imports are looked up from.
func (v *vfs) treeDir(id string) string {
	if id == "" {
		return ""
	}
	if pk := v.byID[id]; pk != nil {
		return pk.Path
	}
	return ""
}

// extensions tried for an import without one, in esbuild's order for TypeScript
// projects.
var extensions = []string{".tsx", ".ts", ".jsx", ".js", ".mjs", ".cjs", ".mts", ".cts", ".json"}

// file resolves a path to a file: as is, with an extension, TypeScript's "./u.js" for
// u.ts, a folder's package.json main or index.
func (v *vfs) file(p string) (string, bool) {
	if v.isFile(p) {
		return p, true
	}
	for _, ext := range extensions {
		if v.isFile(p + ext) {
			return p + ext, true
		}
	}
	for _, m := range [][2]string{{".js", ".ts"}, {".js", ".tsx"}, {".mjs", ".mts"}, {".cjs", ".cts"}, {".jsx", ".tsx"}} {
		if stem, ok := strings.CutSuffix(p, m[0]); ok && v.isFile(stem+m[1]) {
			return stem + m[1], true
		}
	}
	if b, ok := v.read(p + "/package.json"); ok {
		var m pkgJSON
		if json.Unmarshal(b, &m) == nil && m.Main != "" {
			if f, ok := v.file(path.Join(p, m.Main)); ok && f != p {
				return f, true
			}
		}
	}
	for _, ext := range extensions {
		if v.isFile(p + "/index" + ext) {
			return p + "/index" + ext, true
		}
	}
	return "", false
}

// splitBare splits a bare specifier into the package name and the subpath ("." or
// "./x").
func splitBare(spec string) (name, sub string) {
	parts := strings.SplitN(spec, "/", 3)
	n := 1
	if strings.HasPrefix(spec, "@") && len(parts) > 1 {
		n = 2
	}
	name = strings.Join(parts[:min(n, len(parts))], "/")
	rest := strings.TrimPrefix(spec[len(name):], "/")
	if rest == "" {
		return name, "."
	}
	return name, "./" + rest
}

// conditions are the export conditions of an import, in the order isobox matches them
// (the first present in the map's own order wins, as Node does).
func conditions(require bool) []string {
	if require {
		return []string{"workerd", "worker", "browser", "require", "default"}
	}
	return []string{"workerd", "worker", "browser", "import", "module", "default"}
}

// errNotExported says that a map does not export a subpath.
type errNotExported struct{ sub string }

func (e errNotExported) Error() string { return fmt.Sprintf("does not export %q", e.sub) }

// exportsTarget resolves subpath in an exports (or imports) map to a relative target
// ("./dist/x.js"), or "" when the map maps it to null.
func exportsTarget(raw json.RawMessage, sub string, conds []string) (string, error) {
	m, err := decodeOrdered(raw)
	if err != nil {
		return "", fmt.Errorf("its exports map is not valid JSON")
	}
	// A string, an array or an object of conditions is the map of ".".
	o, ok := m.(object)
	subpaths := false
	for _, kv := range o {
		if strings.HasPrefix(kv.k, ".") || strings.HasPrefix(kv.k, "#") {
			subpaths = true
		}
	}
	if !ok || !subpaths {
		o = object{{".", m}}
	}
	if t, ok := o.get(sub); ok && !strings.Contains(sub, "*") {
		return target(t, "", conds), nil
	}
	// Patterns: the longest prefix before "*" wins.
	keys := make([]string, 0, len(o))
	for _, kv := range o {
		keys = append(keys, kv.k)
	}
	slices.SortStableFunc(keys, func(a, b string) int { return len(b) - len(a) })
	for _, k := range keys {
		t, _ := o.get(k)
		pre, post, ok := strings.Cut(k, "*")
		if !ok {
			if strings.HasSuffix(k, "/") && strings.HasPrefix(sub, k) { // legacy folder mapping
				if s := target(t, "", conds); s != "" {
					return s + sub[len(k):], nil
				}
				return "", nil
			}
			continue
		}
		if strings.HasPrefix(sub, pre) && strings.HasSuffix(sub, post) && len(sub) >= len(pre)+len(post) {
			return target(t, sub[len(pre):len(sub)-len(post)], conds), nil
		}
	}
	return "", errNotExported{sub}
}

// target picks a map value by conditions (the first key of an object, in its own order,
// that is an active condition), filling a pattern's "*". "" when nothing matches.
func target(t any, star string, conds []string) string {
	switch t := t.(type) {
	case string:
		return strings.ReplaceAll(t, "*", star)
	case []any:
		for _, e := range t {
			if s := target(e, star, conds); s != "" {
				return s
			}
		}
	case object:
		for _, kv := range t {
			if slices.Contains(conds, kv.k) {
				if s := target(kv.v, star, conds); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// object is a JSON object with its keys in order (conditions depend on it).
type object []struct {
	k string
	v any
}

func (o object) get(k string) (any, bool) {
	for _, kv := range o {
		if kv.k == k {
			return kv.v, true
		}
	}
	return nil, false
}

// decodeOrdered decodes JSON with objects as object (ordered), depth-bounded.
func decodeOrdered(raw []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var val func(depth int) (any, error)
	val = func(depth int) (any, error) {
		if depth > 64 {
			return nil, fmt.Errorf("too deep")
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'):
			var o object
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := val(depth + 1)
				if err != nil {
					return nil, err
				}
				o = append(o, struct {
					k string
					v any
				}{k, v})
			}
			_, err := dec.Token()
			return o, err
		case json.Delim('['):
			var a []any
			for dec.More() {
				v, err := val(depth + 1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return tok, nil
	}
	return val(0)
}
