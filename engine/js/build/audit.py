#!/usr/bin/env python3
"""audit.py: lists the loops of QuickJS-ng's built-ins, to decide which must poll.

    python3 engine/js/build/audit.py QUICKJS_DIR

QUICKJS_DIR is a copy of the sources with patches/*.patch applied (build.sh KEEP=dir keeps
one). For every C function named in the function tables of the built-ins whose work can
grow with their input (String, Array, TypedArray, ArrayBuffer, BigInt, JSON, RegExp, Map,
the global functions), and every static function they call (transitively, within
quickjs.c and libunicode.c), it prints each function that has a loop or a bulk memory call
(memcpy, memmove, memset, memcmp, memchr), how many of each, and what polls inside it:

    poll   the function itself calls js_poll_work / js_poll_interrupts / lre_poll_work
    pass   a single pass that polls between chunks (js_poll_pass, js_pass_end,
           js_pass_account, JS_PASS_TICK, string_buffer_tick, JS_TA_REVERSE), or whose
           only long work is bulk memory calls, which quickjs.c runs in polling chunks
           above JS_PASS_BYTES (the memcpy... macros of patches/0002; below it they add
           their bytes to the sum of patches/0003, as allocations do)
    sbuf   it appends to a StringBuffer (string_buffer_putc*, _write*, _concat*, _fill), which
           polls every 64K characters appended: each iteration of its loop appends
    elem   it walks elements through the polling element helpers (JS_*PropertyInt64/Uint32)
    call   it calls a function (JS_Call*) or an iterator (JS_IteratorNext), which poll on entry
    -      nothing: each loop must be bounded by a constant or by something other than the
           input's length (RATIONALE §2a lists them), or it is a finding

Nothing here runs at build time; it is the method behind the list of patched loops.
"""
import re
import sys

TABLES = [
    "js_string_proto_funcs", "js_string_funcs", "js_array_proto_funcs", "js_array_funcs",
    "js_typed_array_base_proto_funcs", "js_typed_array_base_funcs", "js_array_buffer_proto_funcs",
    "js_array_buffer_funcs", "js_bigint_proto_funcs", "js_bigint_funcs", "js_json_funcs",
    "js_regexp_proto_funcs", "js_map_proto_funcs", "js_global_funcs",
]
POLL = re.compile(r"\b(js_poll_work|js_poll_interrupts|lre_poll_work|lre_check_timeout)\s*\(")
PASS = re.compile(r"\b(js_poll_pass|js_pass_end|js_pass_poll|js_pass_account|JS_PASS_TICK(_SLOW)?|string_buffer_tick|JS_TA_REVERSE|js_atod_poll)\s*\(")
SBUF = re.compile(r"\bstring_buffer_(putc\w*|write\w*|concat\w*|fill|puts8)\s*\(")
MEM = re.compile(r"\bmem(cpy|move|set|cmp|chr)\s*\(")
ELEM = re.compile(r"\bJS_(Try)?(Get|Set|Delete)PropertyInt64\s*\(|\bJS_GetPropertyUint32\s*\(")
CALL = re.compile(r"\bJS_(Call(Free|Internal)?|IteratorNext)\s*\(")
LOOP = re.compile(r"\b(for|while)\s*\(|\bdo\s*\{")


def functions(src):
    """name -> body of every top-level function definition."""
    out = {}
    for m in re.finditer(r"^(?:static\s+)?(?:inline\s+|no_inline\s+|__exception\s+)*[\w\s\*]+?\b(\w+)\s*\([^;{]*\)\s*\{", src, re.M):
        end = src.find("\n}\n", m.end())
        if end > 0 and m.group(1) not in ("if", "for", "while", "switch", "return"):
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
    skip = re.compile(r"^(JS_|js_(malloc|free|realloc|mallocz|dup)|__JS|string_buffer_(init|free|end)|js_new_string|js_pass_|js_poll_)")
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
        loops, mems = len(LOOP.findall(body)), len(MEM.findall(body))
        if loops == 0 and mems == 0:
            continue
        how = "poll" if POLL.search(body) else "pass" if PASS.search(body) or (mems and not loops) else \
            "elem" if ELEM.search(body) else "call" if CALL.search(body) else "sbuf" if SBUF.search(body) else "-"
        rows.append((how, f, loops, mems))
    for how, f, loops, mems in sorted(rows):
        print("%-5s %-45s %d loop%s%s" % (how, f, loops, "" if loops == 1 else "s",
                                          ", %d mem" % mems if mems else ""))
    count = {}
    for how, *_ in rows:
        count[how] = count.get(how, 0) + 1
    print("# %d functions: %s" % (len(rows), ", ".join("%d %s" % (n, h) for h, n in sorted(count.items()))))


if __name__ == "__main__":
    main()
