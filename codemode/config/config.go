// Package config reads the Code Mode connector file that `isobox serve --codemode-config`
// and `isobox mcp --codemode-config` take, and opens the connectors it lists: MCP servers
// (by URL or by command, as in Claude Desktop's mcpServers) and OpenAPI documents whose
// requests go through an egress gateway with the policy given.
//
//	{
//	  "mcpServers": {
//	    "docs":  {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}},
//	    "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]}
//	  },
//	  "openapi": {
//	    "petstore": {
//	      "document": "petstore.json",
//	      "baseUrl": "https://petstore.example.com/v1",
//	      "policy": {"rules": [{"action": "allow", "host": "petstore.example.com", "schemes": ["https"],
//	                 "injectHeaders": {"Authorization": "Bearer {{secret:petstore_token}}"}}]},
//	      "secrets": {"petstore_token": "PETSTORE_TOKEN"}
//	    }
//	  },
//	  "modules": {"zod": "^3.25.0", "date-fns": "^4"}
//	}
//
// modules are npm packages (name -> semver range or dist-tag) that the model's code may
// import (`import { z } from "zod"`): Open installs and bundles each one once, with
// isobox's own installer (package bundle: no npm, no install scripts), and Code Mode
// defines a module before the runs that name it (static imports only: import() of a
// module is not offered). A CommonJS package's exports are its named exports.
//
// Each name is a namespace in the sandbox (a JavaScript identifier). ${VAR} in headers,
// args and env is taken from the environment; secrets map a secret's name to the
// environment variable that holds it, so the file holds no credentials. document is a
// path relative to the file, or an http(s) URL read once at start. Without a policy, the
// gateway allows the base URL's host and injects nothing.
package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/mcpconn"
	"github.com/isobox/isobox/codemode/openapi"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/npm"
)

// File is the connector file.
type File struct {
	MCPServers map[string]MCPServer `json:"mcpServers,omitempty"`
	OpenAPI    map[string]OpenAPI   `json:"openapi,omitempty"`
	// Modules maps an npm package's name to a version range ("^3.25.0", "4", "latest").
	Modules map[string]string `json:"modules,omitempty"`
	dir     string            // documents are found relative to it
}

// MCPServer is an MCP server reached by URL (streamable HTTP) or started as a command
// (stdio). Exactly one of URL and Command is set.
type MCPServer struct {
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// OpenAPI is an HTTP API described by an OpenAPI 3 document (JSON).
type OpenAPI struct {
	Document string          `json:"document"`
	BaseURL  string          `json:"baseUrl,omitempty"`
	Policy   json.RawMessage `json:"policy,omitempty"`
	// Secrets maps a secret's name ({{secret:NAME}} in the policy) to the environment
	// variable holding its value.
	Secrets map[string]string `json:"secrets,omitempty"`
}

// Options tune Open.
type Options struct {
	// Log receives warnings (operations left out of an API) and MCP commands' stderr
	// (nil: discarded).
	Log io.Writer
	// LookupEnv reads the environment (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Timeout bounds connecting to one MCP server or reading one document (30 s).
	Timeout time.Duration
	// Bundler installs and bundles the modules (nil: the registry npm would use, as
	// npm.RegistryConfig picks it, with caches under engine.DefaultCacheDir()).
	Bundler *bundle.Bundler
}

// Load reads the file at path and opens its connectors.
//
// # Errors
//
// When the file cannot be read or parsed, or a connector cannot be opened; the error
// names the connector. Connectors opened before the failure are closed.
func Load(ctx context.Context, path string, opts Options) (*codemode.Connectors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("codemode config: %w", err)
	}
	f, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("codemode config %s: %w", path, err)
	}
	return f.Open(ctx, opts)
}

// Parse reads a connector file; dir is where its relative document paths start.
//
// # Errors
//
// Malformed JSON, unknown fields, a name that is not an identifier or is used twice, an
// MCP server with neither or both of url and command, an API without a document, or a
// policy that does not parse.
func Parse(data []byte, dir string) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	f := &File{dir: dir}
	if err := dec.Decode(f); err != nil {
		return nil, err
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON object at byte %d", off)
	}
	seen := map[string]bool{}
	check := func(name string) error {
		if codemode.SanitizeName(name) != name {
			return fmt.Errorf("%q is not a JavaScript identifier: name it %q", name, codemode.SanitizeName(name))
		}
		if seen[name] {
			return fmt.Errorf("two connectors are named %q", name)
		}
		seen[name] = true
		return nil
	}
	for _, name := range sorted(f.MCPServers) {
		s := f.MCPServers[name]
		if err := check(name); err != nil {
			return nil, fmt.Errorf("mcpServers: %w", err)
		}
		if (s.URL == "") == (s.Command == "") {
			return nil, fmt.Errorf("mcpServers.%s: give url or command (exactly one)", name)
		}
		if s.URL != "" && (len(s.Args) > 0 || len(s.Env) > 0) {
			return nil, fmt.Errorf("mcpServers.%s: args and env go with command, not url", name)
		}
		if s.Command != "" && len(s.Headers) > 0 {
			return nil, fmt.Errorf("mcpServers.%s: headers go with url, not command", name)
		}
	}
	for _, name := range sorted(f.OpenAPI) {
		a := f.OpenAPI[name]
		if err := check(name); err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		if a.Document == "" {
			return nil, fmt.Errorf("openapi.%s: document (a path or URL) is required", name)
		}
		if len(a.Policy) > 0 {
			if _, err := egress.ParsePolicy(a.Policy); err != nil {
				return nil, fmt.Errorf("openapi.%s.policy: %v", name, err)
			}
		}
	}
	for _, name := range sorted(f.Modules) {
		if !validPackageName(name) {
			return nil, fmt.Errorf("modules: %q is not an npm package name", name)
		}
		if strings.TrimSpace(f.Modules[name]) == "" {
			return nil, fmt.Errorf("modules.%s: give a version range (\"^1.2.0\", \"latest\")", name)
		}
	}
	return f, nil
}

// packageName is npm's rule for a package name, scoped or not (lowercase, URL-safe).
var packageName = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$`)

func validPackageName(s string) bool { return len(s) <= 214 && packageName.MatchString(s) }

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Open connects every connector (MCP servers first, then APIs, each in name order).
func (f *File) Open(ctx context.Context, opts Options) (*codemode.Connectors, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	cs := codemode.NewConnectors()
	fail := func(err error) (*codemode.Connectors, error) {
		cs.Close()
		return nil, err
	}
	for _, name := range sorted(f.MCPServers) {
		c, err := f.openMCP(ctx, name, f.MCPServers[name], opts)
		if err != nil {
			return fail(err)
		}
		if err := cs.AddLive(name, c.Provider, c.Close); err != nil {
			c.Close()
			return fail(err)
		}
	}
	for _, name := range sorted(f.OpenAPI) {
		api, err := f.openAPI(ctx, name, f.OpenAPI[name], opts)
		if err != nil {
			return fail(err)
		}
		for _, s := range api.Skipped {
			fmt.Fprintf(opts.Log, "isobox: openapi %s: left out %s\n", name, s)
		}
		if err := cs.Add(api.Provider(), nil); err != nil {
			return fail(err)
		}
	}
	if len(f.Modules) > 0 {
		ms, err := f.bundleModules(ctx, opts)
		if err != nil {
			return fail(err)
		}
		cs.SetModules(ms)
	}
	return cs, nil
}

// bundleModules installs and bundles each module as a project of its own, whose one
// module re-exports the package (its default export too, when it has one).
func (f *File) bundleModules(ctx context.Context, opts Options) ([]codemode.Module, error) {
	b := opts.Bundler
	if b == nil {
		reg, token := npm.RegistryConfig("", nil, nil)
		b = bundle.New(bundle.Options{Registry: reg, Token: token, Scopes: npm.ScopeRegistries(nil, nil), CacheDir: engine.DefaultCacheDir()})
	}
	var out []codemode.Module
	for _, name := range sorted(f.Modules) {
		pj, _ := json.Marshal(map[string]any{"name": "isobox-codemode-module", "private": true,
			"dependencies": map[string]string{name: f.Modules[name]}})
		q, _ := json.Marshal(name)
		build := func(entry string) (*bundle.Bundle, error) {
			return b.Build(ctx, bundle.Project{Inline: true, Files: map[string][]byte{
				"package.json": pj, "index.js": []byte(entry)}})
		}
		res, err := build(fmt.Sprintf("export * from %s;\nexport { default } from %s;\n", q, q))
		if err != nil {
			// No default export (or a failed install, which the second build reports).
			res, err = build(fmt.Sprintf("export * from %s;\n", q))
		}
		if err != nil {
			return nil, fmt.Errorf("modules.%s: %w", name, err)
		}
		m := codemode.Module{Name: name, Source: string(res.Code.Modules[bundle.MainModule].Content)}
		for _, id := range res.Packages {
			if v, ok := strings.CutPrefix(id, name+"@"); ok {
				m.Version = v
			}
		}
		out = append(out, m)
	}
	return out, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand fills in ${VAR} from the environment; an unset variable is an error.
func expand(s string, opts Options) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := opts.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

func (f *File) openMCP(ctx context.Context, name string, s MCPServer, opts Options) (*mcpconn.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if s.URL != "" {
		h := http.Header{}
		for k, v := range s.Headers {
			v, err := expand(v, opts)
			if err != nil {
				return nil, fmt.Errorf("mcpServers.%s.headers.%s: %v", name, k, err)
			}
			h.Set(k, v)
		}
		c, err := mcpconn.Connect(ctx, name, mcpconn.HTTP(s.URL, h))
		if err != nil {
			return nil, fmt.Errorf("mcpServers.%s: %v", name, err)
		}
		return c, nil
	}
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		v, err := expand(a, opts)
		if err != nil {
			return nil, fmt.Errorf("mcpServers.%s.args[%d]: %v", name, i, err)
		}
		args[i] = v
	}
	// The command outlives ctx (the connect timeout): it runs until Close.
	cmd := exec.Command(s.Command, args...)
	cmd.Env = os.Environ()
	for _, k := range sorted(s.Env) {
		v, err := expand(s.Env[k], opts)
		if err != nil {
			return nil, fmt.Errorf("mcpServers.%s.env.%s: %v", name, k, err)
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = prefixWriter{w: opts.Log, prefix: "isobox: mcp " + name + ": "}
	c, err := mcpconn.Connect(ctx, name, mcpconn.Command(cmd))
	if err != nil {
		return nil, fmt.Errorf("mcpServers.%s: %v", name, err)
	}
	return c, nil
}

func (f *File) openAPI(ctx context.Context, name string, a OpenAPI, opts Options) (*openapi.API, error) {
	doc, err := f.document(ctx, a.Document, opts)
	if err != nil {
		return nil, fmt.Errorf("openapi.%s.document: %v", name, err)
	}
	base, err := expand(a.BaseURL, opts)
	if err != nil {
		return nil, fmt.Errorf("openapi.%s.baseUrl: %v", name, err)
	}
	var policy *egress.Policy
	if len(a.Policy) > 0 {
		if policy, err = egress.ParsePolicy(a.Policy); err != nil {
			return nil, fmt.Errorf("openapi.%s.policy: %v", name, err)
		}
	}
	secrets := map[string]string{}
	for _, s := range sorted(a.Secrets) {
		v, ok := opts.LookupEnv(a.Secrets[s])
		if !ok {
			return nil, fmt.Errorf("openapi.%s.secrets.%s: environment variable %s is not set", name, s, a.Secrets[s])
		}
		secrets[s] = v
	}
	// The gateway's default policy follows from the base URL, which the document may
	// give: the API is made first, then its transport.
	gw := &deferred{}
	api, err := openapi.New(openapi.Config{Name: name, Document: doc, BaseURL: base, Transport: gw})
	if err != nil {
		return nil, err
	}
	if policy == nil {
		if policy, err = defaultPolicy(api.BaseURL()); err != nil {
			return nil, fmt.Errorf("openapi.%s: %v", name, err)
		}
	}
	g, err := egress.New(egress.Config{Policy: policy, Secrets: egress.NewMemorySecrets(secrets)})
	if err != nil {
		return nil, fmt.Errorf("openapi.%s.policy: %v", name, err)
	}
	gw.rt = g
	return api, nil
}

// deferred is a transport set after the API that uses it is made (before any request).
type deferred struct{ rt http.RoundTripper }

func (d *deferred) RoundTrip(r *http.Request) (*http.Response, error) { return d.rt.RoundTrip(r) }

// defaultPolicy allows the base URL's scheme, host and port, and nothing else.
func defaultPolicy(base string) (*egress.Policy, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("no absolute base URL to derive a policy from")
	}
	rule := map[string]any{"action": "allow", "host": u.Hostname(), "schemes": []string{u.Scheme}}
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		rule["ports"] = []int{n}
	}
	b, _ := json.Marshal(map[string]any{"rules": []any{rule}})
	return egress.ParsePolicy(b)
}

// maxDocument bounds an OpenAPI document.
const maxDocument = 32 << 20

func (f *File) document(ctx context.Context, ref string, opts Options) ([]byte, error) {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", ref, resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
		if err == nil && len(b) > maxDocument {
			err = errors.New("larger than 32 MiB")
		}
		return b, err
	}
	p := ref
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.dir, p)
	}
	return os.ReadFile(p)
}

// prefixWriter prefixes each write (an MCP command's stderr) with the connector's name.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if p.w == io.Discard {
		return len(b), nil
	}
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			io.WriteString(p.w, p.prefix+line)
		}
	}
	return len(b), nil
}
