package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// WorkerCode is the code and configuration of a dynamic worker, as the WorkerCode of
// Cloudflare's Worker Loader: the body of PUT /v1/workers/{id}, the worker of POST
// /v1/run, and what `isobox workers put --code` reads.
type WorkerCode struct {
	CompatibilityDate  string   `json:"compatibilityDate,omitempty"`
	CompatibilityFlags []string `json:"compatibilityFlags,omitempty"`
	// MainModule names the module whose exports are the worker (its default export's
	// fetch, its RPC methods).
	MainModule string            `json:"mainModule"`
	Modules    map[string]Module `json:"modules"`
	// Env is the worker's env object: any JSON value map, at most 1 MiB serialized.
	Env map[string]any `json:"env,omitempty"`
	// Limits apply to every invocation (the lower of these and the entrypoint's wins).
	Limits *Limits `json:"limits,omitempty"`
	// GlobalOutbound is the worker's egress policy, the JSON of an egress.Policy
	// ({"rules": [...]}): what its fetch() may reach and which credentials the gateway
	// adds. Absent or null: the server's default policy, which denies everything unless
	// the operator set one. The server checks it strictly (invalid_worker_code).
	GlobalOutbound json.RawMessage `json:"globalOutbound,omitempty"`
	// Files is a project to bundle instead of modules: its files by relative path
	// ("package.json", "src/index.ts"). PUT /v1/workers/{id} and POST /v1/bundle install
	// its npm dependencies and bundle it (package bundle) into MainModule and Modules;
	// give either Files or MainModule and Modules.
	Files map[string]string `json:"files,omitempty"`
	// SourceHash is "sha256:<hex>" of the project a stored worker was bundled from (its
	// files and compatibility settings): set by the server, equal for equal projects.
	SourceHash string `json:"sourceHash,omitempty"`
	// Bindings are capabilities handed to the worker as properties of env, by name:
	// {"FS": {"workspace": "proj"}} gives it env.FS over workspace "proj" (CheckBindings).
	Bindings map[string]Binding `json:"bindings,omitempty"`
}

// ModuleType is the kind of a module: how its content is read and what it exports.
type ModuleType string

// The module types of the wire. A module given as a plain string has no type ("") and is
// typed by its name (.js and .mjs: js).
const (
	ModuleJS   ModuleType = "js"   // ES module
	ModuleCJS  ModuleType = "cjs"  // CommonJS: its default export is module.exports
	ModuleText ModuleType = "text" // a string, as the default export
	ModuleData ModuleType = "data" // bytes (base64 in JSON), as an ArrayBuffer default export
	ModuleJSON ModuleType = "json" // a JSON value, as the default export
	ModuleWasm ModuleType = "wasm" // a WebAssembly module (base64 in JSON); as the main module, a WebAssembly worker
	ModulePy   ModuleType = "py"   // Python; not supported yet
)

// moduleEncodings says how each typed module's content is written in JSON: as a string,
// base64 of the bytes, or the JSON value itself. A new module type is one line here.
var moduleEncodings = map[ModuleType]encoding{
	ModuleJS: asString, ModuleCJS: asString, ModuleText: asString, ModulePy: asString,
	ModuleData: asBase64, ModuleWasm: asBase64,
	ModuleJSON: asJSON,
}

type encoding int

const (
	asString encoding = iota
	asBase64
	asJSON
)

// Module is one module of a worker. In JSON it is either a string (an ES module, for names
// ending in .js or .mjs) or an object with exactly one of js, cjs, text, data (base64),
// json, py or wasm (base64).
type Module struct {
	Type    ModuleType
	Content []byte
}

// JS returns an ES module.
func JS(src string) Module { return Module{Type: ModuleJS, Content: []byte(src)} }

// UnmarshalJSON implements json.Unmarshaler.
func (m *Module) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*m = Module{Type: "", Content: []byte(s)} // typed by name when the code is loaded
		return nil
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("a module must be a string or an object with one of js, cjs, text, data, json")
	}
	if len(o) != 1 {
		return fmt.Errorf("a module object must have exactly one of js, cjs, text, data, json (got %d keys)", len(o))
	}
	for k, v := range o {
		t := ModuleType(k)
		enc, ok := moduleEncodings[t]
		if !ok {
			return fmt.Errorf("unknown module type %q (want js, cjs, text, data or json)", k)
		}
		switch enc {
		case asString:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("module %s content must be a string", k)
			}
			*m = Module{Type: t, Content: []byte(s)}
		case asBase64:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("module %s content must be a base64 string", k)
			}
			d, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return fmt.Errorf("module %s content is not valid base64: %v", k, err)
			}
			*m = Module{Type: t, Content: d}
		case asJSON:
			*m = Module{Type: t, Content: append([]byte(nil), v...)}
		}
	}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (m Module) MarshalJSON() ([]byte, error) {
	if m.Type == "" {
		return json.Marshal(string(m.Content))
	}
	switch moduleEncodings[m.Type] {
	case asJSON:
		return json.Marshal(map[string]json.RawMessage{"json": m.Content})
	case asBase64:
		return json.Marshal(map[string]string{string(m.Type): base64.StdEncoding.EncodeToString(m.Content)})
	}
	return json.Marshal(map[string]string{string(m.Type): string(m.Content)})
}
