package jsnorm

import "testing"

// BenchmarkSnippet is the esbuild part of an eval: a TypeScript snippet in a code fence
// with a named function (analysis, transform, and the parses that find the function).
//
//	go test ./internal/jsnorm -run X -bench Snippet
func BenchmarkSnippet(b *testing.B) {
	code := "```ts\nasync function main(): Promise<number> {\n  const xs: number[] = [1, 2, 3];\n  return xs.reduce((a, b) => a + b, 0);\n}\n```"
	for b.Loop() {
		if _, err := Snippet(code, Options{Builtins: builtins}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnippetExpression is the common case: a plain expression.
func BenchmarkSnippetExpression(b *testing.B) {
	for b.Loop() {
		if _, err := Snippet("[1, 2, 3].map(x => x * 2)", Options{Builtins: builtins}); err != nil {
			b.Fatal(err)
		}
	}
}
