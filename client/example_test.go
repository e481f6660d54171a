package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

// Store a worker that may reach one host, call it, and read what it fetched. (Needs a
// running `isobox serve`; not run as a test.)
func Example() {
	ctx := context.Background()
	c, err := client.FromEnv() // $ISOBOX_URL, $ISOBOX_API_KEY
	if err != nil {
		log.Fatal(err)
	}
	code := api.WorkerCode{
		MainModule: "main.js",
		Modules: map[string]api.Module{"main.js": api.JS(`export default {
  async fetch() { return fetch("https://api.github.com/zen") } }`)},
		Limits:         &api.Limits{CPUMs: 100, SubRequests: 1},
		GlobalOutbound: json.RawMessage(`{"rules":[{"action":"allow","host":"api.github.com","methods":["GET"]}]}`),
	}
	if _, err := c.PutWorker(ctx, "zen", code); err != nil {
		log.Fatal(err)
	}
	out, err := c.Fetch(ctx, "zen", api.FetchRequest{})
	if isoerr.CodeOf(err) == isoerr.SubrequestLimitExceeded {
		log.Fatal("one fetch only")
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Status, *out.Body)
	audit, _ := c.EgressAudit(ctx, "zen", 1)
	fmt.Println(audit[0].URL, audit[0].Allowed)
}

// Upload a file to a workspace, update it only if nobody else did meanwhile, and run a
// shell script over the workspace. (Needs a running `isobox serve`; not run as a test.)
func ExampleClient_PutFile() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	info, err := c.PutFile(ctx, "proj", "data/rows.csv", strings.NewReader("a,1\nb,2\n"), -1, client.FileOptions{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.PutFile(ctx, "proj", "data/rows.csv", strings.NewReader("a,1\nb,2\nc,3\n"), -1, client.FileOptions{IfMatch: info.ETag})
	if isoerr.CodeOf(err) == isoerr.PreconditionFailed {
		log.Fatal("someone else changed data/rows.csv first")
	}
	res, err := c.Exec(ctx, "proj", api.ExecRequest{Command: "wc -l < data/rows.csv"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
}
