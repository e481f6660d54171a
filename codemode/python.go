package codemode

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/isobox/isobox/codemode/internal/toolset"
	"github.com/isobox/isobox/isoerr"
)

// Code Mode in Python (Options.Language "python"). The model writes statements; the value
// of the last expression is the result, and top-level await works (loader.EvalOptions.Python).
// Each namespace is a global module-like object whose tools are async functions:
//
//	r = await codemode.search_web(query="x")       # keyword arguments: the input object
//	r = await codemode.search_web({"query": "x"})  # or the input object itself
//	r["results"][0]
//
// The keyword arguments are the tool's input object as JSON; a tool whose input is not an
// object takes it as the one positional argument. A failed tool (bad input, the tool's own
// error, the call limit) raises an exception in the code, with the same message as in
// JavaScript. A namespace can also be imported (`from codemode import search_web`) unless
// it has the name of a module the sandbox already has.

// pyToolHelper is the engine's Python function that calls SandboxConfig.Tools (the
// sandbox's `isobox` module): `await isobox.tool(name, args)` with args a JSON-able value,
// the tool's decoded result back, an exception with the tool's error message when it
// fails. The prelude takes it before the model's code runs, which cannot replace it then.
const pyToolHelper = `__import__("isobox").tool`

// pyPreludeFile is the file name of the prelude's code in tracebacks.
const pyPreludeFile = "<codemode>"

// pyNamespaceSrc defines the namespace objects; it runs with _ns (the namespaces: name ->
// {python name: "namespace.tool"}) in its globals, and leaves them as globals of __main__.
const pyNamespaceSrc = `import sys as _sys, types as _types

class _Tools(_types.ModuleType):
    """A namespace of Code Mode tools: each is an async function of its input."""

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _tool(self.__name__ + "." + attr, attr)

    def __repr__(self):
        names = sorted(k for k in self.__dict__ if not k.startswith("__"))
        return "<tools " + self.__name__ + ": " + ", ".join(names) + ">"


def _tool(path, name):
    async def tool(*args, **kwargs):
        if len(args) > 1 or (args and kwargs):
            raise TypeError(path + "() takes keyword arguments (its input's properties) or one input")
        return await _call(path, args[0] if args else kwargs)
    tool.__name__ = tool.__qualname__ = name
    return tool


for _name, _tools in _ns.items():
    _m = _Tools(_name)
    for _py, _path in _tools.items():
        setattr(_m, _py, _tool(_path, _py))
    _g[_name] = _m
    if _name not in _sys.modules:
        _sys.modules[_name] = _m
`

// pyPrelude is the one line put before the model's Python code: it defines the namespaces
// (pyNamespaceSrc, compiled as pyPreludeFile so that its frames say where they come from).
// Being one line, it shifts the code's line numbers by exactly one; pyFixLines undoes that
// in errors.
func pyPrelude(ts *toolset.Set) string {
	if len(ts.Namespaces) == 0 {
		return ""
	}
	ns := map[string]map[string]string{}
	for _, n := range ts.Namespaces {
		tools := map[string]string{}
		for i, py := range n.PyNames() {
			tools[py] = n.Tools[i].Path()
		}
		ns[toolset.PyIdent(n.Name)] = tools
	}
	nsJSON, _ := json.Marshal(ns)
	src, _ := json.Marshal(pyNamespaceSrc)
	// JSON strings are Python string literals (json.Marshal writes only \", \\, \n, \r, \t
	// and \uXXXX escapes); the JSON object is read by json.loads.
	return fmt.Sprintf("exec(compile(%s, %q, \"exec\"), {\"_ns\": __import__(\"json\").loads(%s), \"_g\": globals(), \"_call\": %s})\n",
		src, pyPreludeFile, pyStringLiteral(string(nsJSON)), pyToolHelper)
}

// pyStringLiteral is s as a Python string literal (JSON's string syntax is a subset).
func pyStringLiteral(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pyFence matches code a model wrapped in a Markdown code fence.
var pyFence = regexp.MustCompile("(?s)^\\s*```[A-Za-z0-9_+-]*[ \\t]*\\r?\\n(.*?)\\r?\\n?```\\s*$")

// pyCode is the model's Python as the sandbox runs it: without a Markdown fence.
func pyCode(code string) string {
	if m := pyFence.FindStringSubmatch(code); m != nil {
		return m[1]
	}
	return code
}

// pyLineRef matches the places a Python traceback or SyntaxError names a line of the code.
var pyLineRef = regexp.MustCompile(`(File "<exec>", line |\(<exec>, line )(\d+)`)

// pyFixLines renumbers the lines of the model's code in err (the prelude is line 1).
func pyFixLines(err *isoerr.Error) *isoerr.Error {
	if err == nil {
		return nil
	}
	fix := func(s string) string {
		return pyLineRef.ReplaceAllStringFunc(s, func(m string) string {
			sub := pyLineRef.FindStringSubmatch(m)
			n, _ := strconv.Atoi(sub[2])
			if n > 1 {
				n--
			}
			return sub[1] + strconv.Itoa(n)
		})
	}
	e := *err
	e.Stack, e.Message = fix(e.Stack), fix(e.Message)
	return &e
}
