"""Packs CPython's standard library for the isobox sandbox: stdlib.py LIB WASI_BUILD OUT.zip

Every module of LIB that can work in a WASI sandbox is compiled to .pyc (optimization level
0, unchecked-hash invalidation: no timestamps, so the output depends only on the sources)
and stored, with no sources, in OUT.zip with fixed dates and sorted names: the same inputs
give the same bytes. The interpreter imports from it with zipimport (module_search_paths is
the zip). The build's _sysconfigdata module (from WASI_BUILD) is added, with the build
directory's path replaced by /build and the recipe's (this folder, named in the compiler
flags) by /isobox, so that the zip does not depend on where the repository is checked out.

Left out: tests, GUI and terminal toolkits, build and packaging tools, and the modules whose
C half does not exist on WASI (multiprocessing, ctypes, curses, dbm, sqlite3, venv, ...).
"""

import importlib.util
import os
import sys
import zipfile

SKIP_DIRS = {
    "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip",
    "venv", "curses", "dbm", "sqlite3", "ctypes", "multiprocessing",
    "pydoc_data", "__phello__", "site-packages", "config-3.13", "_pyrepl",
}
SKIP_FILES = {"turtle.py", "antigravity.py", "this.py", "pydoc.py", "tabnanny.py", "cProfile.py"}


def pyc(source, name):
    code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    data = importlib._bootstrap_external._code_to_hash_pyc(
        code, importlib.util.source_hash(source), checked=False)
    return bytes(data)


def main(lib, wasi_build, out):
    files = []
    for root, dirs, names in os.walk(lib):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for n in names:
            if n.endswith(".py") and n not in SKIP_FILES:
                files.append(os.path.join(root, n))
    build_lib = open(os.path.join(wasi_build, "pybuilddir.txt")).read().strip()
    for n in sorted(os.listdir(os.path.join(wasi_build, build_lib))):
        if n.startswith("_sysconfigdata") and n.endswith(".py"):
            files.append(os.path.join(wasi_build, build_lib, n))
    entries = {}
    for path in files:
        rel = os.path.basename(path) if path.startswith(wasi_build) else os.path.relpath(path, lib)
        rel = rel.replace(os.sep, "/")
        with open(path, "rb") as f:
            source = f.read()
        if path.startswith(wasi_build):  # _sysconfigdata names the build and recipe directories
            here = os.path.dirname(os.path.abspath(__file__))
            source = source.replace(here.encode(), b"/isobox")
            source = source.replace(os.path.dirname(os.path.abspath(wasi_build)).encode(), b"/build")
        entries[rel[:-3] + ".pyc"] = pyc(source, rel)
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            z.writestr(info, entries[name])
    os.replace(tmp, out)
    print(f"{out}: {len(entries)} modules, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:])
