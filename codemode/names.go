package codemode

import "github.com/isobox/isobox/codemode/internal/toolset"

// SanitizeName turns a tool or namespace name into a JavaScript identifier the way
// @cloudflare/codemode's sanitizeToolName does: every character that cannot be in an
// identifier becomes "_" ("my-tool" -> "my_tool", "files/read" -> "files_read"), a leading
// digit gets a "_" in front, and a reserved word gets one behind ("delete" -> "delete_").
func SanitizeName(name string) string { return toolset.SanitizeName(name) }

// resolve merges providers that share a namespace and names every tool
// (toolset.Resolve, which holds the code that needs no sandbox).
func resolve(providers []Provider) (*toolset.Set, error) {
	ps := make([]toolset.Provider, len(providers))
	for i, p := range providers {
		tools := make([]toolset.Tool, len(p.Tools))
		for j, t := range p.Tools {
			tools[j] = toolset.Tool{Name: t.Name, Description: t.Description,
				InputSchema: t.InputSchema, OutputSchema: t.OutputSchema, Func: t.Func}
		}
		ps[i] = toolset.Provider{Name: p.Name, Description: p.Description, Tools: tools}
	}
	return toolset.Resolve(ps)
}
