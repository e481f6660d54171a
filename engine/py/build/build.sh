#!/usr/bin/env bash
# Builds engine/py/python.wasm and engine/py/python313.zip: CPython 3.13.5 for wasm32-wasi as
# a reactor (driver.c), and its standard library precompiled to .pyc in a zip, with Debian's
# clang-19 / lld-19 / wasi-libc. The sources are Debian trixie's source packages of CPython
# and zlib, downloaded from the Debian mirror and checked against the SHA-256 pinned below;
# none are committed, only our patches to CPython (patches/).
#
#   engine/py/build/build.sh            rebuild both and python.sha256 (~15 min on 2 cores)
#   engine/py/build/build.sh --check    rebuild in a temp dir and fail if anything differs
#
# WORK=dir keeps the build tree there and reuses the stages it finished (for iterating on
# driver.c or the stdlib list without rebuilding CPython). JOBS=n sets make's -j (default 2).
# Needs: apt-get install clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32 gcc make curl
# (wasi-libc comes pinned from trixie, see below).
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
cd ..
out=$PWD
mode=${1:-build}
jobs=${JOBS:-2}

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PY_VERSION=3.13.5
PY_TAR=python3.13_3.13.5.orig.tar.xz            # from python3.13 3.13.5-2+deb13u5 (trixie)
PY_URL=$MIRROR/pool/main/p/python3.13/$PY_TAR
PY_SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640
ZLIB_TAR=zlib_1.3.dfsg+really1.3.1.orig.tar.gz   # from zlib 1:1.3.dfsg+really1.3.1-1 (trixie)
ZLIB_URL=$MIRROR/pool/main/z/zlib/$ZLIB_TAR
ZLIB_SHA256=60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb
# wasi-libc from trixie, not the machine's: bookworm's (2022) lacks what CPython 3.13 uses.
WASI_DEB=wasi-libc_0.0~git20241209.574b88d-2_all.deb
WASI_URL=$MIRROR/pool/main/w/wasi-libc/$WASI_DEB
WASI_SHA256=b7716260051d289248b7667f81fa2792c125d888ff51da3fa09c6272cc0bd11d

if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
work=$(cd "$work" && pwd)

# Reproducible: fixed dates in __DATE__/__TIME__ (Modules/getbuildinfo.c), no build paths,
# and a fixed hash seed for the build Python (the order of frozenset constants in the frozen
# modules and the .pyc files depends on it).
export SOURCE_DATE_EPOCH=1767225600 LC_ALL=C TZ=UTC PYTHONHASHSEED=0
niced="nice -n 19"

fetch() { # url sha256 file
  if [ ! -f "$work/$3" ] || ! echo "$2  $work/$3" | sha256sum -c --quiet - 2>/dev/null; then
    curl -fsS --retry 3 -o "$work/$3.part" "$1"
    mv "$work/$3.part" "$work/$3"
  fi
  echo "$2  $work/$3" | sha256sum -c --quiet - ||
    { echo "build.sh: $3 does not have the pinned SHA-256 $2" >&2; exit 1; }
}
fetch "$PY_URL" "$PY_SHA256" "$PY_TAR"
fetch "$ZLIB_URL" "$ZLIB_SHA256" "$ZLIB_TAR"
fetch "$WASI_URL" "$WASI_SHA256" "$WASI_DEB"

src=$work/Python-$PY_VERSION
if [ ! -f "$src/.isobox-patched" ]; then
  rm -rf "$src"
  tar -C "$work" -xf "$work/$PY_TAR"
  for p in "$here"/patches/*.patch; do
    patch --batch --fuzz=0 --no-backup-if-mismatch -s -p1 -d "$src" < "$p" ||
      { echo "build.sh: $p does not apply to CPython $PY_VERSION" >&2; exit 1; }
  done
  touch "$src/.isobox-patched"
fi

# A sysroot holding only the (pinned) wasi headers and libraries, so that clang never sees
# the host's /usr/include.
sys=$work/sysroot
if [ ! -d "$sys" ]; then
  rm -rf "$work/wasi-libc" && dpkg-deb -x "$work/$WASI_DEB" "$work/wasi-libc"
  mkdir -p "$sys/include" "$sys/lib"
  ln -s "$work/wasi-libc/usr/include/wasm32-wasi" "$sys/include/wasm32-wasi"
  ln -s "$work/wasi-libc/usr/lib/wasm32-wasi" "$sys/lib/wasm32-wasi"
fi
prefixmap="-ffile-prefix-map=$work=/build -ffile-prefix-map=$here=/isobox"
WASM_CC="clang-19 --target=wasm32-wasi --sysroot=$sys"

# zlib (for zlib, gzip and zipfile in the sandbox), a static library.
zdir=$work/zlib
if [ ! -f "$zdir/libz.a" ]; then
  rm -rf "$zdir" && mkdir -p "$zdir/src"
  tar -C "$zdir/src" --strip-components=1 -xf "$work/$ZLIB_TAR"
  (cd "$zdir" && for f in adler32 compress crc32 deflate infback inffast inflate inftrees trees uncompr zutil; do
     $WASM_CC -O2 $prefixmap -D_LARGEFILE64_SOURCE=1 -DHAVE_UNISTD_H -c "src/$f.c" -o "$f.o"
   done && llvm-ar-19 rcsD libz.a ./*.o && cp src/zlib.h src/zconf.h .)
fi

# The build Python: CPython for this machine, used by the cross build (frozen modules) and
# to compile the standard library to .pyc.
native=$work/native
if [ ! -f "$native/.done" ]; then
  rm -rf "$native" && mkdir -p "$native"
  (cd "$native" && $niced "$src/configure" -C --prefix="$native/inst" > configure.log 2>&1 &&
     $niced make -j"$jobs" -s all > make.log 2>&1) ||
    { echo "build.sh: the native build failed, see $native/*.log" >&2; exit 1; }
  touch "$native/.done"
fi

# CPython for wasm32-wasi (static modules, no dynamic loading, no threads). configure runs by
# a relative path: the source directory's path is compiled in (getpath.c's VPATH).
wasi=$work/wasi
if [ ! -f "$wasi/.done" ]; then
  rm -rf "$wasi" && mkdir -p "$wasi"
  (cd "$wasi" && CONFIG_SITE="$src/Tools/wasm/config.site-wasm32-wasi" \
     CC="$WASM_CC" CPP="clang-cpp-19 --target=wasm32-wasi --sysroot=$sys" \
     AR=llvm-ar-19 RANLIB=llvm-ranlib-19 READELF=llvm-readelf-19 \
     CFLAGS="-O2 $prefixmap" \
     PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=/nonexistent \
     ZLIB_CFLAGS="-I$zdir" ZLIB_LIBS="-L$zdir -lz" \
     $niced "../Python-$PY_VERSION/configure" -C --host=wasm32-wasi --build=x86_64-pc-linux-gnu \
       --with-build-python="$native/python" --without-system-libmpdec --without-ensurepip \
       --disable-test-modules > configure.log 2>&1 &&
     $niced make -j"$jobs" -s all > make.log 2>&1) ||
    { echo "build.sh: the wasm32-wasi build failed, see $wasi/*.log" >&2; exit 1; }
  touch "$wasi/.done"
fi

# The reactor: driver.c linked against libpython and the static libraries of its modules,
# with the link flags CPython's own python.wasm gets (read from its Makefile).
# CPython's --initial-memory (20 MiB) is dropped: the module starts with its stack and data
# only, so the engine's image (the memory after start-up) is always larger than that.
cat > "$work/driver.mk" <<EOF
include Makefile
comma := ,
CONFIGURE_LDFLAGS_NODIST := \$(filter-out -Wl\$(comma)--initial-memory=%,\$(CONFIGURE_LDFLAGS_NODIST))
isobox-python.wasm: $here/driver.c \$(LINK_PYTHON_DEPS)
	\$(CC) -c \$(PY_STDMODULE_CFLAGS) -O2 $prefixmap -o isobox-driver.o $here/driver.c
	\$(LINKCC) \$(PY_CORE_LDFLAGS) -mexec-model=reactor -o \$@ isobox-driver.o \$(LINK_PYTHON_OBJS) \$(LIBS) \$(MODLIBS) \$(SYSLIBS) -Wl,-z,stack-size=8388608 -Wl,--stack-first -Wl,--strip-all
EOF
rm -f "$wasi/isobox-python.wasm"
(cd "$wasi" && make -s -f "$work/driver.mk" isobox-python.wasm)

# The standard library: every module of Lib/ that can work in the sandbox, compiled to .pyc
# (unchecked hashes: no timestamps) and stored in a zip with fixed dates, sorted.
"$native/python" -E -S "$here/stdlib.py" "$src/Lib" "$wasi" "$work/python313.zip"

wasm_sum=$(sha256sum "$wasi/isobox-python.wasm" | cut -d' ' -f1)
zip_sum=$(sha256sum "$work/python313.zip" | cut -d' ' -f1)
if [ "$mode" = --check ]; then
  status=0
  for f in python.wasm:$wasm_sum python313.zip:$zip_sum; do
    name=${f%%:*} sum=${f#*:}
    want=$(grep " $name\$" python.sha256 | cut -d' ' -f1)
    have=$(sha256sum "$name" | cut -d' ' -f1)
    if [ "$sum" != "$want" ] || [ "$have" != "$want" ]; then
      echo "build.sh --check: $name is not what the recipe builds (rebuilt $sum, recorded $want, committed $have)" >&2
      status=1
    fi
  done
  [ $status = 0 ] && echo "python.wasm and python313.zip reproduce: $wasm_sum $zip_sum"
  exit $status
fi
cp "$wasi/isobox-python.wasm" python.wasm
cp "$work/python313.zip" python313.zip
printf '%s  python.wasm\n%s  python313.zip\n' "$wasm_sum" "$zip_sum" > python.sha256
ls -l python.wasm python313.zip
cat python.sha256
