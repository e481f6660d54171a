package api_test

import (
	"encoding/json"
	"fmt"

	"github.com/isobox/isobox/api"
)

// The body of PUT /v1/workers/{id}: one ES module, a CPU limit and an egress policy.
func ExampleWorkerCode() {
	code := api.WorkerCode{
		MainModule: "main.js",
		Modules: map[string]api.Module{
			"main.js": api.JS(`export default { fetch() { return fetch("https://api.github.com/zen") } }`),
		},
		Limits:         &api.Limits{CPUMs: 100},
		GlobalOutbound: json.RawMessage(`{"rules":[{"action":"allow","host":"api.github.com","methods":["GET"]}]}`),
	}
	b, _ := json.Marshal(code)
	fmt.Println(string(b))
	fmt.Println(api.CheckWorkerID("github-zen:v1") == nil, api.CheckWorkerID("no spaces") == nil)
	// Output:
	// {"mainModule":"main.js","modules":{"main.js":{"js":"export default { fetch() { return fetch(\"https://api.github.com/zen\") } }"}},"limits":{"cpuMs":100},"globalOutbound":{"rules":[{"action":"allow","host":"api.github.com","methods":["GET"]}]}}
	// true false
}
