// Package npm installs the npm dependencies of a project in memory, for the bundler: it
// reads the registry's metadata, picks versions by semver range (or takes them from a
// package-lock.json), lays packages out with node_modules nesting, and downloads, checks
// (sha512 integrity) and unpacks their tarballs. It never runs node, npm or a package's
// install scripts, and treats every byte from the registry as hostile: tarballs are
// bounded in size, file count, path length and depth, and links are refused.
//
// Metadata is cached with a TTL and tarballs by integrity, under Config.CacheDir.
package npm

import (
	"bufio"
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultRegistry is the registry npm itself uses when none is configured.
const DefaultRegistry = "https://registry.npmjs.org/"

// Limits bound what one install may download and unpack. Zero fields take the defaults.
type Limits struct {
	TarballBytes  int64         // compressed size of one tarball (default 64 MiB)
	UnpackedBytes int64         // all files of one package together (default 256 MiB)
	FileBytes     int64         // one file of a package (default 32 MiB)
	Files         int           // files in one package (default 20,000)
	PathLength    int           // bytes of one path inside a package (default 1,024)
	PathDepth     int           // folders deep inside a package (default 32)
	MetadataBytes int64         // one package's metadata document (default 64 MiB)
	Packages      int           // packages in one install (default 5,000)
	InstallBytes  int64         // all unpacked files of one install (default 512 MiB)
	Download      time.Duration // one metadata or tarball download (default 60 s)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defi := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.TarballBytes, 64<<20)
	def(&l.UnpackedBytes, 256<<20)
	def(&l.FileBytes, 32<<20)
	defi(&l.Files, 20000)
	defi(&l.PathLength, 1024)
	defi(&l.PathDepth, 32)
	def(&l.MetadataBytes, 64<<20)
	defi(&l.Packages, 5000)
	def(&l.InstallBytes, 512<<20)
	if l.Download <= 0 {
		l.Download = 60 * time.Second
	}
	return l
}

// Config says where packages come from and where they are cached.
type Config struct {
	// Registry is the registry's base URL (default DefaultRegistry).
	Registry string
	// Token, when set, is sent as a bearer token to the registry's host (and only there).
	Token string
	// Scopes are the scopes an .npmrc sends to a registry of their own (ScopeRegistries).
	// isobox does not install from more than one registry: a package of such a scope is
	// refused, naming both registries, unless the scope's registry is Registry. (Fetching
	// it from Registry instead would install whatever someone published there under that
	// name: dependency confusion.)
	Scopes map[string]string
	// CacheDir holds metadata and tarballs ("": no disk cache, memory only).
	CacheDir string
	// MetadataTTL is how long fetched metadata is trusted (default 5 minutes).
	MetadataTTL time.Duration
	Limits      Limits
}

// RegistryConfig returns the registry and its token as npm would pick them for a project:
// the flag, else $ISOBOX_NPM_REGISTRY, else `registry=` of the project's .npmrc, else of
// ~/.npmrc, else DefaultRegistry; the token is the `//host/path/:_authToken=` line of
// those .npmrc files that matches the registry (`${VAR}` is read from the environment).
func RegistryConfig(flag string, projectNpmrc []byte, getenv func(string) string) (registry, token string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	parsed := npmrcs(projectNpmrc, getenv)
	registry = flag
	if registry == "" {
		registry = getenv("ISOBOX_NPM_REGISTRY")
	}
	for _, rc := range parsed {
		if registry == "" {
			registry = rc["registry"]
		}
	}
	if registry == "" {
		registry = DefaultRegistry
	}
	if !strings.HasSuffix(registry, "/") {
		registry += "/"
	}
	if u, err := url.Parse(registry); err == nil {
		key := "//" + u.Host + u.Path
		for _, rc := range parsed {
			if t := rc[key+":_authToken"]; t != "" && token == "" {
				token = t
			}
		}
	}
	return registry, token
}

// ScopeRegistries returns the scopes that the same .npmrc files as RegistryConfig's send
// to a registry of their own (`@acme:registry=https://npm.acme.dev/`): scope -> URL, the
// project's .npmrc first. isobox installs from one registry (Config.Scopes).
func ScopeRegistries(projectNpmrc []byte, getenv func(string) string) map[string]string {
	out := map[string]string{}
	for _, rc := range npmrcs(projectNpmrc, getenv) {
		for k, v := range rc {
			scope, ok := strings.CutSuffix(k, ":registry")
			if !ok || !strings.HasPrefix(scope, "@") || v == "" {
				continue
			}
			if _, seen := out[scope]; !seen {
				out[scope] = v
			}
		}
	}
	return out
}

// npmrcs parses the project's .npmrc (when not nil) and ~/.npmrc, in that order.
func npmrcs(projectNpmrc []byte, getenv func(string) string) []map[string]string {
	if getenv == nil {
		getenv = os.Getenv
	}
	var rcs [][]byte
	if projectNpmrc != nil {
		rcs = append(rcs, projectNpmrc)
	}
	if home, err := os.UserHomeDir(); err == nil {
		if b, err := os.ReadFile(filepath.Join(home, ".npmrc")); err == nil {
			rcs = append(rcs, b)
		}
	}
	parsed := make([]map[string]string, len(rcs))
	for i, b := range rcs {
		parsed[i] = parseNpmrc(b, getenv)
	}
	return parsed
}

// parseNpmrc reads an .npmrc's key=value lines (comments start with # or ;).
func parseNpmrc(b []byte, getenv func(string) string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		v = os.Expand(v, getenv)
		out[strings.TrimSpace(k)] = v
	}
	return out
}
