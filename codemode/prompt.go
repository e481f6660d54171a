package codemode

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/isobox/isobox/codemode/internal/toolset"
)

// Describe returns the text that tells a model how to use the providers' tools from code:
// the instructions, an example, and the TypeScript declaration of the API (Types). It is
// the description of the one tool ("execute") an agent gives the model instead of every
// tool, as @cloudflare/codemode's DEFAULT_DESCRIPTION with {{types}} filled in.
//
// # Errors
//
// As Types.
func Describe(providers ...Provider) (string, error) {
	return DescribeFor(DefaultLimits(), providers...)
}

// DescribeFor is Describe for runs with limits l (the prompt states the tool-call limit).
func DescribeFor(l Limits, providers ...Provider) (string, error) {
	return DescribeWith(l, nil, providers...)
}

// DescribeWith is DescribeFor for runs that may import modules (Options.Modules): the
// prompt lists them by name and version.
func DescribeWith(l Limits, modules []Module, providers ...Provider) (string, error) {
	if l.MaxToolCalls <= 0 {
		l.MaxToolCalls = DefaultLimits().MaxToolCalls
	}
	ts, err := resolve(providers)
	if err != nil {
		return "", err
	}
	types, err := ts.Types()
	if err != nil {
		return "", err
	}
	return describe(ts, types, l.MaxToolCalls, modules), nil
}

func describe(ts *toolset.Set, types string, maxCalls int, modules []Module) string {
	var b strings.Builder
	if len(modules) > 0 {
		b.WriteString(strings.Replace(instructions, noImports, "do not use type annotations, interfaces or generics, and import nothing but the npm packages listed below (no require).", 1))
	} else {
		b.WriteString(instructions)
	}
	fmt.Fprintf(&b, "- A run may make up to %d tool calls and is stopped when it uses too much CPU time or memory.\n", maxCalls)
	ns, tool, arg := DefaultNamespace, "someTool", "{ ... }"
	if len(ts.Namespaces) > 0 && len(ts.Namespaces[0].Tools) > 0 {
		ns, tool = ts.Namespaces[0].Name, ts.Namespaces[0].Tools[0].Ident
		if toolset.OptionalInput(ts.Namespaces[0].Tools[0].Tool.InputSchema) {
			arg = ""
		}
	}
	fmt.Fprintf(&b, "\nExample:\n\nasync () => {\n  const a = await %s.%s(%s);\n  console.log(\"got\", a);\n  return a;\n}\n", ns, tool, arg)
	b.WriteString(describeModules(modules))
	b.WriteString("\nThe API, declared in TypeScript so that you can see the shape of every input and output:\n\n```ts\n")
	b.WriteString(types)
	b.WriteString("```\n")
	return b.String()
}

// noImports is the end of the instructions' line about plain JavaScript, replaced when
// the runs may import modules.
const noImports = "do not use type annotations, interfaces or generics, and do not import or require anything."

// instructions is the fixed part of the prompt; Describe appends the limits, an example
// and the API.
const instructions = `Run JavaScript that uses the tools declared below, and get back the value it returns.

Write the code as one async arrow function, ` + "`async () => { ... }`" + `, and return the answer from it.
- Write plain JavaScript. The API below is written in TypeScript only to show you the types: do not use type annotations, interfaces or generics, and do not import or require anything.
- Every tool is an async method of the object it is declared on: await it. Start independent calls together with Promise.all.
- An input that does not match its type, or a tool that fails, rejects the promise with a message that says why. Catch it when you can carry on without that call.
- Return only what is needed; the value must survive JSON.stringify. What you console.log is returned too, which helps when something goes wrong.
- The code runs in an isolated sandbox with no network (fetch fails), no files and nothing kept between runs: work through the tools.
`

// DescribePython is Describe for runs of Python code (Options.Language "python"): the
// instructions, an example and the API as Python (PythonTypes), for runs with limits l.
//
// # Errors
//
// As Types.
func DescribePython(l Limits, providers ...Provider) (string, error) {
	if l.MaxToolCalls <= 0 {
		l.MaxToolCalls = DefaultLimits().MaxToolCalls
	}
	ts, err := resolve(providers)
	if err != nil {
		return "", err
	}
	types, err := ts.PyTypes()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(pyInstructions)
	fmt.Fprintf(&b, "- A run may make up to %d tool calls and is stopped when it uses too much CPU time or memory.\n", l.MaxToolCalls)
	b.WriteString("\nExample:\n\n```python\n" + pyExample(ts) + "```\n\nThe API, declared in Python so that you can see the shape of every input and output (a TypedDict is a plain dict):\n\n```python\n")
	b.WriteString(types)
	b.WriteString("```\n")
	return b.String(), nil
}

// PythonNote is the paragraph that tells a model, after Describe's JavaScript prompt, how
// the same tools are called from Python: for a tool (such as MCP's execute) that takes
// either language.
func PythonNote(providers ...Provider) (string, error) {
	ts, err := resolve(providers)
	if err != nil {
		return "", err
	}
	return "\nWith language \"python\", write Python 3.13 instead: statements, then the value of the last expression is the result (no function to write); top-level await works; print() is the console output. " +
		"Each namespace above is a global whose tools are async functions taking the input's properties as keyword arguments (a Python keyword gets \"_\" behind, as in `" + toolset.PyIdent("class") + "`), or the input as one dict:\n\n```python\n" + pyExample(ts) + "```\n", nil
}

// pyExample is a short Python program calling the first tool.
func pyExample(ts *toolset.Set) string {
	ns, tool, arg := DefaultNamespace, "some_tool", "..."
	if len(ts.Namespaces) > 0 && len(ts.Namespaces[0].Tools) > 0 {
		n := ts.Namespaces[0]
		ns, tool = toolset.PyIdent(n.Name), n.PyNames()[0]
		arg = pyExampleArgs(n.Tools[0].Tool.InputSchema)
	}
	return fmt.Sprintf("a = await %s.%s(%s)\nprint(\"got\", a)\na\n", ns, tool, arg)
}

// pyExampleArgs writes the required keyword arguments of an input schema as name=...
func pyExampleArgs(schema []byte) string {
	if toolset.OptionalInput(schema) {
		return ""
	}
	var s struct {
		Required   []string       `json:"required"`
		Properties map[string]any `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil || len(s.Required) == 0 {
		return "..."
	}
	var args []string
	for _, r := range s.Required {
		if toolset.PyIdent(r) != r {
			return "{...}"
		}
		args = append(args, r+"=...")
	}
	return strings.Join(args, ", ")
}

// pyInstructions is the fixed part of the Python prompt.
const pyInstructions = `Run Python that uses the tools declared below, and get back the value of its last expression.

Write Python 3.13 statements; the value of the last expression is the result (there is no function to write). Top-level await works.
- Every tool is an async function of the object (the namespace) it is declared on: await it, with the input's properties as keyword arguments, or with the whole input as one dict. Run independent calls together with asyncio.gather.
- An input that does not match its type, or a tool that fails, raises an exception with a message that says why. Catch it when you can carry on without that call.
- End with only what is needed; the value is returned as JSON (tuples become lists). What you print() is returned too, which helps when something goes wrong.
- The code runs in an isolated sandbox with the standard library (json, re, math, datetime, collections, ...) but no network, no files, no pip packages and nothing kept between runs: work through the tools.
`
