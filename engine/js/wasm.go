// Package js holds the WebAssembly build of QuickJS-ng that every isobox JavaScript sandbox
// runs in: qjs.wasm, made by build.sh from registry-obtained sources and glue.c, committed
// with its checksum so that building isobox needs no C toolchain.
package js

import (
	_ "embed"
	"strings"
)

//go:embed qjs.wasm
var wasm []byte

//go:embed qjs.wasm.sha256
var checksum string

// Wasm returns the QuickJS-ng module (do not modify the slice).
func Wasm() []byte { return wasm }

// BuildID identifies this build of the module: the first 16 hex digits of its SHA-256.
// Anything derived from the module (snapshots, caches) is keyed by it.
func BuildID() string {
	s := strings.TrimSpace(checksum)
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}
