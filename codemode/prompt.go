package codemode

import (
	"fmt"
	"strings"
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
	types, err := ts.types()
	if err != nil {
		return "", err
	}
	return ts.describe(types, l.MaxToolCalls, modules), nil
}

func (ts *toolset) describe(types string, maxCalls int, modules []Module) string {
	var b strings.Builder
	if len(modules) > 0 {
		b.WriteString(strings.Replace(instructions, noImports, "do not use type annotations, interfaces or generics, and import nothing but the npm packages listed below (no require).", 1))
	} else {
		b.WriteString(instructions)
	}
	fmt.Fprintf(&b, "- A run may make up to %d tool calls and is stopped when it uses too much CPU time or memory.\n", maxCalls)
	ns, tool, arg := DefaultNamespace, "someTool", "{ ... }"
	if len(ts.namespaces) > 0 && len(ts.namespaces[0].tools) > 0 {
		ns, tool = ts.namespaces[0].name, ts.namespaces[0].tools[0].ident
		if optionalInput(ts.namespaces[0].tools[0].tool.InputSchema) {
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
