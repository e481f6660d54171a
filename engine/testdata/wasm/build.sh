#!/bin/sh
# Rebuilds the test modules of engine/wasmworker_test.go from their C sources with Debian's
# clang-19, lld-19 and wasi-libc (apt-get install clang-19 lld-19 wasi-libc
# libclang-rt-19-dev-wasm32). Run from anywhere; the outputs are committed.
set -eu
cd "$(dirname "$0")"
CC="${CC:-clang-19} --target=wasm32-wasi -Os -Wl,--strip-all"
$CC -o cmd.wasm cmd.c
$CC -mexec-model=reactor -o reactor.wasm reactor.c
$CC -o badimport.wasm badimport.c
