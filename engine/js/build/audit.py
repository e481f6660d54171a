#!/usr/bin/env python3
"""audit.py: lists the loops of QuickJS-ng's built-ins, to decide which must poll.

    python3 engine/js/build/audit.py QUICKJS_DIR

QUICKJS_DIR is a copy of the sources with patches/*.patch applied (build.sh KEEP=dir keeps
one). For every C function named in the function tables of the built-ins whose work can
grow with their input (String, Array, TypedArray, ArrayBuffer, BigInt, JSON, RegExp), and
every static function they call (transitively, within quickjs.c), it prints the function's
loops and what polls inside it:

    poll   the function itself calls js_poll_work / js_poll_interrupts / lre_poll_work
    elem   it walks elements through the polling element helpers (JS_*PropertyInt64/Uint32)
    call   it calls JavaScript (JS_Call*), which polls on entry
    -      nothing: the loop must be bounded by a constant, or be one pass over a single
           allocation (memory-bounded, linear), or be reviewed (RATIONALE §2a)

Nothing here runs at build time; it is the method behind the list of patched loops.
"""
import re
import sys

TABLES = [
    "js_string_proto_funcs", "js_string_funcs", "js_array_proto_funcs", "js_array_funcs",
    "js_typed_array_base_proto_funcs", "js_typed_array_base_funcs", "js_array_buffer_proto_funcs",
    "js_bigint_proto_funcs", "js_bigint_funcs", "js_json_funcs", "js_regexp_proto_funcs",
]
POLL = re.compile(r"\b(js_poll_work|js_poll_interrupts|lre_poll_work|lre_check_timeout)\s*\(")
ELEM = re.compile(r"\bJS_(Try)?(Get|Set|Delete)PropertyInt64\s*\(|\bJS_GetPropertyUint32\s*\(")
CALL = re.compile(r"\bJS_Call(Free|Internal)?\s*\(")
LOOP = re.compile(r"\b(for|while)\s*\(|\bdo\s*\{")


def functions(src):
    """name -> body of every top-level function definition."""
    out = {}
    for m in re.finditer(r"^(?:static\s+)?(?:inline\s+|no_inline\s+|__exception\s+)*[\w\s\*]+?\b(\w+)\s*\([^;{]*\)\s*\{", src, re.M):
        end = src.find("\n}\n", m.end())
        if end > 0:
            out.setdefault(m.group(1), src[m.end():end])
    return out


def table_functions(src, table):
    m = re.search(r"static const JSCFunctionListEntry %s\[\] = \{(.*?)\n\};" % table, src, re.S)
    if not m:
        return []
    return re.findall(r"JS_CFUNC_(?:MAGIC_)?DEF\(\s*\"[^\"]*\"\s*,\s*\d+\s*,\s*(\w+)", m.group(1)) + \
        re.findall(r"JS_CGETSET_(?:MAGIC_)?DEF\(\s*\"[^\"]*\"\s*,\s*(\w+)", m.group(1))


def main():
    d = sys.argv[1]
    src = open(d + "/quickjs.c").read()
    uni = open(d + "/libunicode.c").read()
    fns = functions(src)
    fns.update({k: v for k, v in functions(uni).items() if k not in fns})
    roots = []
    for t in TABLES:
        roots += table_functions(src, t)
    # Callees: static helpers called from the built-ins, transitively, stopping at the
    # general machinery (property access, calls, allocation) which is not input-length work.
    skip = re.compile(r"^(JS_|js_(malloc|free|realloc|mallocz|dup)|__JS|string_buffer_(init|putc|free|end)|js_new_string|js_sub_string)")
    seen, todo = set(), list(dict.fromkeys(roots))
    while todo:
        f = todo.pop()
        if f in seen or f not in fns:
            continue
        seen.add(f)
        for callee in re.findall(r"\b(\w+)\s*\(", fns[f]):
            if callee in fns and callee not in seen and not skip.match(callee) and callee != f:
                todo.append(callee)
    rows = []
    for f in sorted(seen):
        body = fns[f]
        loops = len(LOOP.findall(body))
        if loops == 0:
            continue
        how = "poll" if POLL.search(body) else "elem" if ELEM.search(body) else "call" if CALL.search(body) else "-"
        rows.append((how, f, loops))
    for how, f, loops in sorted(rows):
        print("%-5s %-45s %d loop%s" % (how, f, loops, "" if loops == 1 else "s"))


if __name__ == "__main__":
    main()
