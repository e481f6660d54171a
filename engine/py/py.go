// Package py holds the WebAssembly build of CPython that every isobox Python sandbox runs
// in: python.wasm (CPython 3.13.5 for wasm32-wasi as a reactor, with driver.c) and
// python313.zip (its standard library, precompiled), made by build/build.sh from Debian's
// source packages and committed with their checksums so that building isobox needs no C
// toolchain; and prelude.py, the Python half of a sandbox, run once per engine.
package py

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"strings"
)

//go:embed python.wasm
var wasm []byte

//go:embed python313.zip
var stdlib embed.FS

//go:embed python.sha256
var checksums string

//go:embed prelude.py
var prelude string

// StdlibName is the standard library's file name; the sandbox sees it at /lib/StdlibName.
const StdlibName = "python313.zip"

// Wasm returns the CPython module (do not modify the slice).
func Wasm() []byte { return wasm }

// Stdlib returns a file system holding only the standard library zip (StdlibName), to be
// mounted read-only at /lib in the sandbox.
func Stdlib() fs.FS { return stdlib }

// Prelude returns the Python source run once when the interpreter starts (see prelude.py).
func Prelude() string { return prelude }

// Checksum returns the SHA-256 (hex) that python.sha256 records for name ("" if none).
func Checksum(name string) string {
	for _, line := range strings.Split(checksums, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == name {
			return f[0]
		}
	}
	return ""
}

// BuildID identifies this build of the module and its standard library: 16 hex digits of
// the SHA-256 of both checksums. Anything derived from them (snapshots, caches) is keyed
// by it: an image holds zipimport's index of the zip (file offsets), so a new zip with the
// same module must not reuse it.
func BuildID() string { return buildID(Checksum("python.wasm"), Checksum(StdlibName)) }

func buildID(wasmSum, stdlibSum string) string {
	s := sha256.Sum256([]byte(wasmSum + " " + stdlibSum))
	return hex.EncodeToString(s[:8])
}
