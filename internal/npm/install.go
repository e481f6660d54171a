package npm

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"

	"github.com/isobox/isobox/isoerr"
)

// Manifest is the part of a package.json that installing reads.
type Manifest struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
}

// Package is one installed package: where it sits in the node_modules tree, what it is and
// its files.
type Package struct {
	// Path is its folder in the tree: "node_modules/a", "node_modules/a/node_modules/b",
	// "node_modules/@s/c".
	Path      string
	Name      string
	Version   string
	Integrity string
	Resolved  string
	// Files are the package's files by path relative to its folder.
	Files map[string][]byte
}

// ID is name@version, the package's identity whatever its place in the tree.
func (p *Package) ID() string { return p.Name + "@" + p.Version }

// Tree is an installed node_modules tree.
type Tree struct {
	// Packages by Path.
	Packages map[string]*Package
	// FromLock says that the versions came from package-lock.json.
	FromLock bool
}

// Resolved lists "path name@version integrity" lines in path order: what the tree is,
// for cache keys.
func (t *Tree) Resolved() []string {
	out := make([]string, 0, len(t.Packages))
	for _, p := range slices.Sorted(maps.Keys(t.Packages)) {
		pk := t.Packages[p]
		out = append(out, p+" "+pk.ID()+" "+pk.Integrity)
	}
	return out
}

// Lookup finds the package that an import of name from the folder dir (a tree path such as
// "" for the project or "node_modules/a") resolves to, with node's rule: the nearest
// node_modules/name walking up.
func (t *Tree) Lookup(dir, name string) *Package {
	for {
		p := path.Join(dir, "node_modules", name)
		if pk, ok := t.Packages[p]; ok {
			return pk
		}
		if dir == "" || dir == "." {
			return nil
		}
		// Up to the folder that holds the node_modules containing dir.
		i := strings.LastIndex(dir, "node_modules/")
		if i < 0 {
			dir = ""
			continue
		}
		dir = strings.TrimSuffix(dir[:i], "/")
	}
}

// Install resolves the dependencies of a project's package.json (with its
// package-lock.json when lock is not nil and matches the package.json), then downloads and
// unpacks every package. dependencies, optionalDependencies and peerDependencies are
// installed (a peer dependency as a regular one, placed where its dependent sees it);
// devDependencies are not: a worker's bundle does not run its tools.
//
// # Errors
//
// bundle_failed naming the package and its range when a package or a matching version
// does not exist, when a dependency is not a registry range (git, file, URL and alias
// dependencies are not supported), and for every refusal of Client.Tarball.
func (c *Client) Install(ctx context.Context, manifest, lock []byte) (*Tree, error) {
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, isoerr.New(isoerr.BundleFailed, "package.json is not valid JSON: %v", err)
	}
	var t *Tree
	if lock != nil {
		lt, err := treeFromLock(lock, &m)
		if err != nil {
			return nil, err
		}
		t = lt
	}
	if t == nil {
		var err error
		if t, err = c.resolve(ctx, &m); err != nil {
			return nil, err
		}
	}
	if len(t.Packages) > c.cfg.Limits.Packages {
		return nil, isoerr.New(isoerr.BundleFailed, "the project needs %d packages; the limit is %d", len(t.Packages), c.cfg.Limits.Packages)
	}
	if err := c.fetchAll(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// rootDeps are the dependencies of the project that get installed, by name.
func rootDeps(m *Manifest) map[string]string {
	deps := map[string]string{}
	for _, d := range []map[string]string{m.PeerDependencies, m.OptionalDependencies, m.Dependencies} {
		maps.Copy(deps, d)
	}
	return deps
}

// treeFromLock takes a lockfileVersion 2 or 3 package-lock.json's packages. It returns nil
// (resolve afresh, as npm install would update the lock) when the lock misses a dependency
// of package.json or holds a version outside its range.
func treeFromLock(b []byte, m *Manifest) (*Tree, error) {
	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Version   string `json:"version"`
			Resolved  string `json:"resolved"`
			Integrity string `json:"integrity"`
			Dev       bool   `json:"dev"`
			Link      bool   `json:"link"`
			Name      string `json:"name"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, isoerr.New(isoerr.BundleFailed, "package-lock.json is not valid JSON: %v", err)
	}
	if lock.LockfileVersion < 2 || lock.Packages == nil {
		return nil, nil // lockfile v1: resolve afresh
	}
	t := &Tree{Packages: map[string]*Package{}, FromLock: true}
	for p, e := range lock.Packages {
		if p == "" || e.Dev {
			continue
		}
		if e.Link {
			return nil, isoerr.New(isoerr.BundleFailed, "package-lock.json links %q to a local folder (a workspace): not supported", p)
		}
		i := strings.LastIndex(p, "node_modules/")
		if i < 0 || strings.Contains(p, "..") || strings.HasPrefix(p, "/") {
			return nil, isoerr.New(isoerr.BundleFailed, "package-lock.json has a package outside node_modules: %q", p)
		}
		name := e.Name
		if name == "" {
			name = p[i+len("node_modules/"):]
		}
		if !validName(name) || !validPath(p) {
			return nil, isoerr.New(isoerr.BundleFailed, "package-lock.json has an invalid package %q", p)
		}
		t.Packages[p] = &Package{Path: p, Name: name, Version: e.Version, Integrity: e.Integrity, Resolved: e.Resolved}
	}
	for name, rng := range rootDeps(m) {
		pk := t.Packages["node_modules/"+name]
		if pk == nil {
			if _, optional := m.OptionalDependencies[name]; optional {
				continue
			}
			return nil, nil
		}
		if ok, _ := satisfies(pk.Version, rng); !ok {
			return nil, nil
		}
	}
	return t, nil
}

// validPath reports whether a tree path is only node_modules/<name> segments.
func validPath(p string) bool {
	rest := p
	for rest != "" {
		r, ok := strings.CutPrefix(rest, "node_modules/")
		if !ok {
			return false
		}
		name := r
		if i := strings.Index(r, "/node_modules/"); i >= 0 {
			name, rest = r[:i], r[i+1:]
		} else {
			rest = ""
		}
		if !validName(name) {
			return false
		}
	}
	return true
}

// parseRange reads an npm version range; "" and "latest" are any version.
func parseRange(name, rng string) (*semver.Constraints, error) {
	r := strings.TrimSpace(rng)
	switch {
	case strings.HasPrefix(r, "npm:"), strings.HasPrefix(r, "git"), strings.HasPrefix(r, "file:"),
		strings.HasPrefix(r, "link:"), strings.HasPrefix(r, "workspace:"), strings.Contains(r, "://"),
		strings.Contains(r, "/") && !strings.Contains(r, " "):
		return nil, isoerr.New(isoerr.BundleFailed, "dependency %s: %q is not a registry version range (git, file, URL, workspace and alias dependencies are not supported)", name, rng)
	}
	if r == "" || r == "latest" || r == "x" {
		r = "*"
	}
	// npm writes "1.2.3 - 2.3.4" hyphen ranges and space-separated comparators; semver/v3
	// reads both.
	c, err := semver.NewConstraint(r)
	if err != nil {
		return nil, isoerr.New(isoerr.BundleFailed, "dependency %s: %q is not a version range: %v", name, rng, err)
	}
	return c, nil
}

func satisfies(version, rng string) (bool, error) {
	c, err := parseRange("", rng)
	if err != nil {
		return false, err
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return false, nil
	}
	return c.Check(v), nil
}

// pick chooses the version of m for rng as npm does: a dist-tag names its version; else
// the "latest" tag when it satisfies the range, else the highest satisfying version.
func pick(m *Metadata, name, rng string) (*VersionMetadata, error) {
	if v, ok := m.DistTags[strings.TrimSpace(rng)]; ok && rng != "" {
		if vm, ok := m.Versions[v]; ok {
			return &vm, nil
		}
	}
	c, err := parseRange(name, rng)
	if err != nil {
		return nil, err
	}
	if l, ok := m.DistTags["latest"]; ok {
		if v, err := semver.NewVersion(l); err == nil && c.Check(v) {
			if vm, ok := m.Versions[l]; ok {
				return &vm, nil
			}
		}
	}
	var best *semver.Version
	for s := range m.Versions {
		v, err := semver.NewVersion(s)
		if err != nil || !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best = v
		}
	}
	if best == nil {
		vs := slices.Collect(maps.Keys(m.Versions))
		sort.Strings(vs)
		if len(vs) > 12 {
			vs = append(vs[len(vs)-12:], "(and older)")
		}
		return nil, isoerr.New(isoerr.BundleFailed, "no version of %s matches %q (the registry has: %s)", name, rng, strings.Join(vs, ", "))
	}
	vm := m.Versions[best.Original()]
	return &vm, nil
}

// resolve builds the tree from the registry: breadth first, in name order, each
// dependency placed as high as it can go without hiding another version from a package
// that needs it (npm's hoisting), nested under its dependent on a conflict.
func (c *Client) resolve(ctx context.Context, m *Manifest) (*Tree, error) {
	t := &Tree{Packages: map[string]*Package{}}
	type want struct {
		from      string // tree path of the dependent ("" for the project)
		name, rng string
		optional  bool
	}
	deps := map[string]map[string]string{} // tree path -> its dependencies (for placing)
	var queue []want
	add := func(from string, d map[string]string, optional map[string]bool) {
		for _, n := range slices.Sorted(maps.Keys(d)) {
			queue = append(queue, want{from, n, d[n], optional[n]})
		}
	}
	rootOpt := map[string]bool{}
	for n := range m.OptionalDependencies {
		rootOpt[n] = true
	}
	add("", rootDeps(m), rootOpt)
	for len(queue) > 0 {
		level := queue
		queue = nil
		names := make([]string, len(level))
		for i, w := range level {
			names[i] = w.name
		}
		failed := c.prefetch(ctx, names)
		for _, w := range level {
			if err := ctx.Err(); err != nil {
				return nil, isoerr.New(isoerr.Canceled, "installing: %v", err)
			}
			// The package w.from sees under w.name, if any.
			seen := t.Lookup(w.from, w.name)
			if seen != nil {
				if ok, err := satisfies(seen.Version, w.rng); err != nil {
					return nil, err
				} else if ok {
					continue
				}
			}
			// A fetch the prefetch saw fail is not made again: a missing package is asked
			// once, and a registry that timed out does not make the error take twice as long.
			err, prefetchFailed := failed[w.name]
			var md *Metadata
			if !prefetchFailed {
				md, err = c.Metadata(ctx, w.name)
			}
			if err != nil {
				if w.optional {
					continue
				}
				return nil, neededBy(err, t, w.from, w.name, w.rng)
			}
			vm, err := pick(md, w.name, w.rng)
			if err != nil {
				if w.optional {
					continue
				}
				return nil, neededBy(err, t, w.from, w.name, w.rng)
			}
			place := placement(t, w.from, w.name, seen)
			t.Packages[place] = &Package{Path: place, Name: w.name, Version: vm.Version, Integrity: vm.Dist.Integrity, Resolved: vm.Dist.Tarball}
			if vm.Dist.Integrity == "" {
				t.Packages[place].Integrity = "sha1-" + shaHexToB64(vm.Dist.Shasum)
			}
			if len(t.Packages) > c.cfg.Limits.Packages {
				return nil, isoerr.New(isoerr.BundleFailed, "the project needs more than %d packages", c.cfg.Limits.Packages)
			}
			d := map[string]string{}
			opt := map[string]bool{}
			for n, r := range vm.PeerDependencies {
				if vm.PeerDependenciesMeta[n].Optional {
					continue
				}
				d[n] = r
			}
			for n, r := range vm.OptionalDependencies {
				d[n] = r
				opt[n] = true
			}
			maps.Copy(d, vm.Dependencies)
			deps[place] = d
			add(place, d, opt)
		}
	}
	return t, nil
}

// placement is the tree path where name goes for a dependent at from: the root when no
// package of that name is visible from there, else just below the folder whose
// node_modules holds the conflicting one (so that from sees the new one first).
func placement(t *Tree, from, name string, seen *Package) string {
	if seen == nil {
		return path.Join("node_modules", name)
	}
	owner := strings.TrimSuffix(strings.TrimSuffix(seen.Path, name), "node_modules/")
	owner = strings.TrimSuffix(owner, "/")
	// The folder on from's chain directly below owner.
	dir := from
	for {
		parent := dir
		i := strings.LastIndex(parent, "node_modules/")
		if i < 0 {
			break
		}
		up := strings.TrimSuffix(parent[:i], "/")
		if up == owner {
			break
		}
		dir = up
	}
	return path.Join(dir, "node_modules", name)
}

// neededBy adds to a failure to resolve name@rng which package needed it. The result is
// one isoerr.Error whose message says it all: the server's answer shows only the message
// of the first isoerr.Error in a chain, so a wrapper around it would be lost there.
func neededBy(err error, t *Tree, from, name, rng string) error {
	who := "the project"
	if pk := t.Packages[from]; pk != nil {
		who = pk.ID()
	}
	var e *isoerr.Error
	if !errors.As(err, &e) {
		return isoerr.New(isoerr.BundleFailed, "%v (%s %q, needed by %s)", err, name, rng, who)
	}
	return isoerr.New(e.Code, "%s (%s %q, needed by %s)", e.Message, name, rng, who)
}

func shaHexToB64(h string) string {
	in, err := ParseIntegrity("", h)
	if err != nil {
		return ""
	}
	return in.String()[len("sha1-"):]
}

// prefetch fetches the metadata of a level's packages in parallel (8 at a time), so that a
// wide tree costs its depth in round trips, not its size. It returns the names whose fetch
// failed, with their errors, which the caller reports in its own order.
func (c *Client) prefetch(ctx context.Context, names []string) map[string]error {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := map[string]error{}
	for _, n := range slices.Compact(slices.Sorted(slices.Values(names))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := c.Metadata(ctx, n); err != nil {
				mu.Lock()
				failed[n] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// fetchAll downloads and unpacks every package of the tree, 8 at a time.
func (c *Client) fetchAll(ctx context.Context, t *Tree) error {
	paths := slices.Sorted(maps.Keys(t.Packages))
	errs := make([]error, len(paths))
	var total atomic.Int64
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, p := range paths {
		pk := t.Packages[p]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.checkScope(pk.Name); err != nil { // a locked package
				errs[i] = err
				return
			}
			in, err := ParseIntegrity(pk.Integrity, "")
			if err != nil {
				errs[i] = isoerr.New(isoerr.BundleFailed, "%s: %s", pk.ID(), isoerr.As(err).Message)
				return
			}
			u := pk.Resolved
			if u == "" || t.FromLock {
				u = c.tarballURL(pk, u)
			}
			files, err := c.Tarball(ctx, pk.ID(), u, in)
			if err != nil {
				errs[i] = err
				return
			}
			n := int64(0)
			for _, b := range files {
				n += int64(len(b))
			}
			if total.Add(n) > c.cfg.Limits.InstallBytes {
				errs[i] = isoerr.New(isoerr.BundleFailed, "the project's packages unpack to more than %d bytes (at %s)", c.cfg.Limits.InstallBytes, pk.ID())
				return
			}
			pk.Files = files
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// tarballURL is where a locked package's tarball is fetched: the lock's URL when it is on
// the configured registry's host, else the registry's conventional URL for the package
// (npm's replace-registry-host=always). A lockfile comes from the user: following its
// URLs to any host would let it make the server fetch from anywhere.
func (c *Client) tarballURL(pk *Package, resolved string) string {
	if u, err := url.Parse(resolved); err == nil && resolved != "" && u.Host == c.host && (u.Scheme == "https" || u.Scheme == "http") {
		return resolved
	}
	base := pk.Name
	if i := strings.IndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	return c.cfg.Registry + pk.Name + "/-/" + base + "-" + pk.Version + ".tgz"
}
