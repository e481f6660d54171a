// Package codemode lets a model call tools by writing code, as Cloudflare's
// @cloudflare/codemode does: instead of one tool call per model turn, the model is shown
// the tools as a TypeScript API (Types, Describe) and writes one short JavaScript program
// that calls many of them; isobox runs it in a fresh sandbox (Executor.Execute) and
// returns its value, its console output and the trace of its tool calls.
//
//	tools := []codemode.Tool{codemode.NewTool("searchWeb", "Search the web.", search)}
//	prompt, _ := codemode.Describe(codemode.Provider{Tools: tools}) // the model's instructions
//	x := codemode.NewExecutor(l)                                    // l is a *loader.Loader
//	res := x.Execute(ctx, modelCode, []codemode.Provider{{Tools: tools}}, codemode.Options{})
//
// Tools come from Go code (NewTool, or Tool with a JSON Schema), from MCP servers
// (codemode/mcpconn) and from OpenAPI documents (codemode/openapi), grouped by Provider
// into namespaces: global objects in the sandbox (codemode.searchWeb, github.listIssues).
// The sandbox reaches the host through one function (engine.SandboxConfig.Tools); the
// host finds the tool, checks the argument against its input schema and runs it, and a
// failure rejects the promise in the sandbox. The code itself has no network unless
// Options.Outbound gives it one.
//
// The model may write Python instead (Options.Language "python"): the same namespaces are
// globals whose tools are async functions taking the input's properties as keyword
// arguments (`r = await codemode.searchWeb(query="x")`), and the value of the last
// expression is the result. PythonTypes and DescribePython show it the API as Python.
package codemode
