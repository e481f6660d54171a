package npm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// Metadata is the part of a package's registry document that installing reads (npm's
// abbreviated "install-v1" form, which the full form also satisfies).
type Metadata struct {
	Name     string                     `json:"name"`
	DistTags map[string]string          `json:"dist-tags"`
	Versions map[string]VersionMetadata `json:"versions"`
}

// VersionMetadata is one version of a package in its registry document.
type VersionMetadata struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Dependencies         map[string]string `json:"dependencies,omitempty"`
	OptionalDependencies map[string]string `json:"optionalDependencies,omitempty"`
	PeerDependencies     map[string]string `json:"peerDependencies,omitempty"`
	PeerDependenciesMeta map[string]struct {
		Optional bool `json:"optional"`
	} `json:"peerDependenciesMeta,omitempty"`
	Dist struct {
		Tarball   string `json:"tarball"`
		Integrity string `json:"integrity"`
		Shasum    string `json:"shasum"`
	} `json:"dist"`
}

// Client talks to one registry and keeps its caches. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	host string // the registry's host: the only one that gets the token

	mu   sync.Mutex
	meta map[string]metaEntry
}

type metaEntry struct {
	m  *Metadata
	at time.Time
}

// NewClient returns a client of cfg's registry. httpClient nil: http.DefaultClient's
// transport with cfg's download time limit.
func NewClient(cfg Config, httpClient *http.Client) *Client {
	if cfg.Registry == "" {
		cfg.Registry = DefaultRegistry
	}
	if !strings.HasSuffix(cfg.Registry, "/") {
		cfg.Registry += "/"
	}
	if cfg.MetadataTTL <= 0 {
		cfg.MetadataTTL = 5 * time.Minute
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	c := &Client{cfg: cfg, http: httpClient, meta: map[string]metaEntry{}}
	if u, err := url.Parse(cfg.Registry); err == nil {
		c.host = u.Host
	}
	return c
}

// Config returns the client's configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// validName reports whether name is a package name npm accepts (lower case, url-safe,
// optionally @scope/), which also keeps it safe in URLs and file names.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 214 {
		return false
	}
	rest := name
	if strings.HasPrefix(name, "@") {
		scope, n, ok := strings.Cut(name[1:], "/")
		if !ok || !validPart(scope) || !validPart(n) {
			return false
		}
		return true
	}
	return validPart(rest)
}

func validPart(s string) bool {
	if s == "" || s[0] == '.' || s[0] == '_' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Metadata returns a package's registry document, from the cache when it is younger than
// the TTL.
//
// # Errors
//
// bundle_failed when the name is invalid, the registry does not know the package (404),
// answers with another error, or the download fails or exceeds its limits.
func (c *Client) Metadata(ctx context.Context, name string) (*Metadata, error) {
	if !validName(name) {
		return nil, isoerr.New(isoerr.BundleFailed, "invalid package name %q", name)
	}
	if err := c.checkScope(name); err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.meta[name]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.cfg.MetadataTTL {
		return e.m, nil
	}
	file := ""
	if c.cfg.CacheDir != "" {
		file = filepath.Join(c.cfg.CacheDir, "npm", "meta", url.PathEscape(c.cfg.Registry), url.PathEscape(name)+".json")
		if st, err := os.Stat(file); err == nil && time.Since(st.ModTime()) < c.cfg.MetadataTTL {
			if b, err := os.ReadFile(file); err == nil {
				var m Metadata
				if json.Unmarshal(b, &m) == nil {
					c.remember(name, &m, st.ModTime())
					return &m, nil
				}
			}
		}
	}
	u := c.cfg.Registry + strings.Replace(url.PathEscape(name), "%40", "@", 1)
	b, err := c.get(ctx, u, "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8", c.cfg.Limits.MetadataBytes)
	if err != nil {
		var nf notFound
		if errors.As(err, &nf) {
			return nil, isoerr.New(isoerr.BundleFailed, "package %q does not exist in the registry %s", name, c.cfg.Registry)
		}
		return nil, isoerr.New(isoerr.BundleFailed, "fetching the metadata of %q: %v", name, err)
	}
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, isoerr.New(isoerr.BundleFailed, "the registry's metadata of %q is not valid JSON: %v", name, err)
	}
	if file != "" {
		// Only the fields installing reads: a popular package's document is megabytes of
		// readmes and fields that would be decoded again on every cache read.
		if small, err := json.Marshal(&m); err == nil {
			writeAtomic(file, small)
		}
	}
	c.remember(name, &m, time.Now())
	return &m, nil
}

// checkScope refuses a package whose scope an .npmrc sends to another registry.
func (c *Client) checkScope(name string) error {
	scope, _, ok := strings.Cut(name, "/")
	if !ok || !strings.HasPrefix(name, "@") {
		return nil
	}
	reg, ok := c.cfg.Scopes[scope]
	if !ok || strings.TrimSuffix(reg, "/") == strings.TrimSuffix(c.cfg.Registry, "/") {
		return nil
	}
	return isoerr.New(isoerr.BundleFailed, "package %s: .npmrc sends the %s scope to %s, and isobox installs from one registry, %s (per-scope registries are not supported; --npm-registry %s would install everything from there)", name, scope, reg, c.cfg.Registry, reg)
}

func (c *Client) remember(name string, m *Metadata, at time.Time) {
	c.mu.Lock()
	c.meta[name] = metaEntry{m, at}
	c.mu.Unlock()
}

// Tarball returns the unpacked files of one package version, from the cache when a
// tarball of that integrity is there. The download is checked against integrity and
// unpacked (Unpack) before anything is cached.
//
// # Errors
//
// bundle_failed for a failed download, a mismatching integrity, or a tarball that
// Unpack refuses; nothing is cached then.
func (c *Client) Tarball(ctx context.Context, pkg, tarballURL string, in Integrity) (map[string][]byte, error) {
	file := ""
	if c.cfg.CacheDir != "" {
		file = filepath.Join(c.cfg.CacheDir, "npm", "tarballs", in.key()+".tgz")
		if b, err := os.ReadFile(file); err == nil && in.Check(b) {
			if files, err := Unpack(pkg, b, c.cfg.Limits); err == nil {
				return files, nil
			}
		}
	}
	u, err := url.Parse(tarballURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, isoerr.New(isoerr.BundleFailed, "the tarball URL of %s is not an http(s) URL: %q", pkg, tarballURL)
	}
	b, err := c.get(ctx, tarballURL, "application/octet-stream", c.cfg.Limits.TarballBytes)
	if err != nil {
		return nil, isoerr.New(isoerr.BundleFailed, "downloading %s: %v", pkg, err)
	}
	if !in.Check(b) {
		return nil, isoerr.New(isoerr.BundleFailed, "the tarball of %s does not match its integrity %s: refusing it", pkg, in)
	}
	files, err := Unpack(pkg, b, c.cfg.Limits)
	if err != nil {
		return nil, err
	}
	if file != "" {
		writeAtomic(file, b)
	}
	return files, nil
}

type notFound struct{}

func (notFound) Error() string { return "not found" }

// get downloads u with the time and size limits, adding the token for the registry host.
func (c *Client) get(ctx context.Context, u, accept string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Limits.Download)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "isobox-bundler")
	if c.cfg.Token != "" && req.URL.Host == c.host {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("no answer within %v", c.cfg.Limits.Download)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, notFound{}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d bytes", u, resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no complete answer within %v", c.cfg.Limits.Download)
		}
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over the limit of %d bytes", u, limit)
	}
	return b, nil
}

// writeAtomic writes a cache file through a temporary name, so a reader never sees half
// of one; a failure only costs the cache.
func writeAtomic(file string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), file) != nil {
		os.Remove(f.Name())
	}
}
