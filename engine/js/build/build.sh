#!/usr/bin/env bash
# Builds engine/js/qjs.wasm: QuickJS-ng v0.15.1 for wasm32-wasi plus glue.c, with Debian's
# clang-19 / lld-19 / wasi-libc. The QuickJS-ng sources come from the Go module proxy (they
# ship inside github.com/buke/quickjs-go v0.7.7, folder deps/quickjs); none are committed,
# only our patches to them (patches/).
#
#   engine/js/build/build.sh            rebuild qjs.wasm and qjs.wasm.sha256
#   engine/js/build/build.sh --check    rebuild into a temp file and fail if it differs
#
# Needs: apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
set -euo pipefail
cd "$(dirname "$0")"
glue=$PWD/glue.c
patches=$PWD/patches
cd ..
mode=${1:-build}
QJS_MODULE=github.com/buke/quickjs-go@v0.7.7

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir=$(cd "$tmp" && go mod init tmp >/dev/null 2>&1 && go mod download -json "$QJS_MODULE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
orig="$dir/deps/quickjs"
[ -f "$orig/quickjs.c" ] || { echo "build.sh: QuickJS-ng sources not found in $QJS_MODULE" >&2; exit 1; }

# Our changes to QuickJS-ng (patches/*.patch, unified diffs against v0.15.1, applied in
# name order with no fuzz) go into a copy of the sources; the module cache stays pristine.
src="$tmp/quickjs"
cp -R "$orig" "$src"
chmod -R u+w "$src"
for p in "$patches"/*.patch; do
  patch --batch --fuzz=0 --no-backup-if-mismatch -s -p1 -d "$src" < "$p" ||
    { echo "build.sh: $p does not apply to QuickJS-ng v0.15.1" >&2; exit 1; }
done
# KEEP=dir keeps the patched sources (for engine/js/build/audit.py).
if [ -n "${KEEP:-}" ]; then rm -rf "$KEEP" && cp -R "$src" "$KEEP"; fi

# A sysroot holding only the wasi headers and libraries, so that clang never sees the host's
# /usr/include.
sys="$tmp/sysroot"
mkdir -p "$sys/include" "$sys/lib"
ln -s /usr/include/wasm32-wasi "$sys/include/wasm32-wasi"
ln -s /usr/lib/wasm32-wasi "$sys/lib/wasm32-wasi"

out="$tmp/qjs.wasm"
# -ffile-prefix-map keeps the module-cache path out of the binary (reproducible builds);
# the 1 MiB stack lives in linear memory; JS_SetMaxStackSize keeps QuickJS below it.
clang-19 --target=wasm32-wasi --sysroot="$sys" -O2 -mexec-model=reactor \
  -D_GNU_SOURCE -DNDEBUG -ffile-prefix-map="$src"=quickjs -ffile-prefix-map="$(dirname "$glue")"=glue \
  -I"$src" \
  "$src/libregexp.c" "$src/libunicode.c" "$src/dtoa.c" "$glue" \
  -o "$out" -Wl,-z,stack-size=1048576 -Wl,--strip-all -Wno-everything

sum=$(sha256sum "$out" | cut -d' ' -f1)
if [ "$mode" = --check ]; then
  want=$(cut -d' ' -f1 qjs.wasm.sha256)
  have=$(sha256sum qjs.wasm | cut -d' ' -f1)
  if [ "$sum" != "$want" ] || [ "$have" != "$want" ]; then
    echo "build.sh --check: qjs.wasm is not what the recipe builds (rebuilt $sum, recorded $want, committed $have)" >&2
    exit 1
  fi
  echo "qjs.wasm reproduces: $sum"
  exit 0
fi
cp "$out" qjs.wasm
echo "$sum  qjs.wasm" > qjs.wasm.sha256
ls -l qjs.wasm
cat qjs.wasm.sha256
