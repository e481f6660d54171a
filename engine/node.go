package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/isobox/isobox/runtime"
)

// NodeCompatFlag is the compatibility flag that gives a worker the Node.js built-in
// modules of the runtime (SandboxConfig.NodeCompat).
const NodeCompatFlag = "nodejs_compat"

// nodeModules are the Node.js built-ins the runtime provides, by name without "node:";
// made on first use (it copies their sources), not in every process's initialisation.
var nodeModules = sync.OnceValue(runtime.NodeModules)

// nodeBuiltins are all of Node's built-in modules, provided or not: an import of one that
// isobox lacks gets an error that says what it is rather than "cannot find module".
var nodeBuiltins = map[string]bool{}

func init() {
	for _, n := range strings.Fields(nodeBuiltinNames) {
		nodeBuiltins[n] = true
	}
}

// nodeBuiltinNames lists Node.js's built-in module names (without "node:"), space
// separated: the names a bare import of a Node built-in may take (bundle/esbuild.go keeps
// the same list for the bundler).
const nodeBuiltinNames = `assert assert/strict async_hooks buffer child_process cluster console constants
crypto dgram diagnostics_channel dns dns/promises domain events fs fs/promises http http2 https inspector
module net os path path/posix path/win32 perf_hooks process punycode querystring readline readline/promises
repl stream stream/consumers stream/promises stream/web string_decoder sys timers timers/promises tls
trace_events tty url util util/types v8 vm wasi worker_threads zlib`

// ResolveWith is Resolve in a sandbox with or without SandboxConfig.NodeCompat: imports of
// Node.js built-ins resolve to the runtime's modules under it, and fail with an error that
// names the built-in, its importer and the flag otherwise.
func (m ModuleMap) ResolveWith(nodeCompat bool, base, spec string) (string, error) {
	if name, ok, err := resolveNode(m, nodeCompat, base, spec); ok {
		return name, err
	}
	return m.Resolve(base, spec)
}

// resolveNode resolves an import of a Node.js built-in: spec "node:x", or a bare "x" that
// names a Node built-in and no module of the worker. ok is false for any other spec.
func resolveNode(m ModuleMap, nodeCompat bool, base, spec string) (name string, ok bool, err error) {
	bare, prefixed := strings.CutPrefix(spec, "node:")
	if !prefixed {
		if !nodeBuiltins[spec] {
			return "", false, nil
		}
		for _, c := range ResolveCandidates(base, spec) {
			if _, own := m[c]; own {
				return "", false, nil // the worker's own module of that name wins
			}
		}
	}
	if !nodeBuiltins[bare] {
		return "", true, fmt.Errorf("cannot find module %q imported from %q: it is not a Node.js built-in", spec, base)
	}
	if !nodeCompat {
		// The runtime's dispatcher reports a load error whose message says "not available
		// in isobox" as invalid_worker_code.
		return "", true, fmt.Errorf("%q, imported by %q, is a Node.js built-in module, not available in isobox without the %s compatibility flag (the built-in modules without it are: %s)", spec, base, NodeCompatFlag, builtinNames())
	}
	if _, have := nodeModules()[bare]; !have {
		return "", true, fmt.Errorf("%q, imported by %q, is a Node.js built-in module not available in isobox, even under %s (it has: %s)", spec, base, NodeCompatFlag, nodeNames())
	}
	return "node:" + bare, true, nil
}

func nodeNames() string {
	var b strings.Builder
	for _, n := range strings.Fields(nodeBuiltinNames) {
		if _, ok := nodeModules()[n]; ok {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// nodeESM is the ES module of Node built-in name ("node:x"): the CommonJS module, required
// once per sandbox, as the default export and as named exports.
func nodeESM(name string) (string, bool) {
	mod, ok := nodeModules()[strings.TrimPrefix(name, "node:")]
	if !ok || !strings.HasPrefix(name, "node:") {
		return "", false
	}
	q, _ := json.Marshal(name)
	var b strings.Builder
	b.WriteString("const m = globalThis.__isobox_internal.requireFrom(\"\", " + string(q) + ");\nexport default m;\n")
	if len(mod.Exports) > 0 {
		b.WriteString("export const { " + strings.Join(mod.Exports, ", ") + " } = m;\n")
	}
	return b.String(), true
}

// nodeRequireAnswers are require_source's answers for the Node built-ins, by "node:x"; made
// on first use (they are 400 KB of JSON).
var nodeRequireAnswers = sync.OnceValue(func() map[string][]byte {
	m := make(map[string][]byte, len(nodeModules()))
	for name, mod := range nodeModules() {
		m["node:"+name], _ = json.Marshal(map[string]string{"type": string(ModuleCJS), "source": mod.Source})
	}
	return m
})

// nodeRequire is require_source's answer for Node built-in name ("node:x").
func nodeRequire(name string) ([]byte, bool) {
	b, ok := nodeRequireAnswers()[name]
	return b, ok
}

func (sb *Sandbox) opMemoryLimit([]byte) ([]byte, error) {
	return []byte(strconv.FormatUint(sb.mem.limit, 10)), nil
}
