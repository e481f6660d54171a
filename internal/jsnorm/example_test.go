package jsnorm_test

import (
	"fmt"
	"strings"

	"github.com/isobox/isobox/internal/jsnorm"
)

func ExampleSnippet() {
	js, err := jsnorm.Snippet("```ts\nasync function main(): Promise<number> {\n  return 42;\n}\n```", jsnorm.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Print(strings.TrimSuffix(js, jsnorm.Marker))
	// Output:
	// async function main() {
	//   return 42;
	// }
	// main;
}

func ExampleSnippet_error() {
	_, err := jsnorm.Snippet(`import fs from "fs"`, jsnorm.Options{Builtins: map[string]string{"cloudflare:workers": "export default {}"}})
	fmt.Println(err)
	// Output:
	// invalid_worker_code: cannot import module "fs": a snippet has no modules of its own and can import only the built-in modules (cloudflare:workers)
}

func ExampleModule() {
	m, err := jsnorm.Module("main.ts", "import type { Env } from \"./env.ts\";\nimport { u } from \"./u.ts\";\nexport default { f(x: number, env: Env) { return u(x) } };")
	if err != nil {
		panic(err)
	}
	fmt.Print(m.Code)
	fmt.Println(m.Imports)
	// Output:
	// import { u } from "./u.ts";
	// export default { f(x, env) {
	//   return u(x);
	// } };
	// [{./u.ts import-statement}]
}
