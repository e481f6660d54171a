package mcpserver_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/mcpserver"
)

// mcpSeeds are JSON-RPC messages to the MCP endpoint: the handshake, listing and calling
// tools with good, bad and hostile arguments, batches, notifications, malformed frames.
var mcpSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"1 + 1"}}}`,
	`{"jsonrpc":"2.0","id":"s","method":"tools/call","params":{"name":"run_code","arguments":{"code":"const s = \"a\".repeat(1e4), n = \"a\".repeat(1e2) + \"b\"; s.indexOf(n)"}}}`,
	`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"Object.defineProperty(Object.prototype, 'then', { get() { return (r) => r('hijacked') } }); 1"}}}`,
	`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"import fs from 'fs'; 1"}}}`,
	`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"run_code","arguments":{"code":1}}}`,
	`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"1","extra":true}}}`,
	`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"nope","arguments":{}}}`,
	`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"run_code"}}`,
	`{"jsonrpc":"2.0","id":10,"method":"resources/list"}`, `{"jsonrpc":"2.0","id":11,"method":"no/such/method"}`,
	`{"jsonrpc":"2.0","method":"notifications/initialized"}`, `{"jsonrpc":"2.0","id":12,"method":"ping"}`,
	`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`,
	`{"jsonrpc":"1.0","id":1,"method":"ping"}`, `{"id":{"a":1},"method":"ping"}`, `{"jsonrpc":"2.0","id":1,"result":{}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}`, `{`, `null`, `[]`, ``, "\xff",
	`{"jsonrpc":"2.0","id":1e400,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"` + strings.Repeat("[", 5000) + `"}}}`,
}

// Every message to the MCP endpoint gets an answer without a server error: a JSON-RPC
// response carries the request's id and exactly one of result and error, and a run_code
// result's structured content is a RunOutput.
func FuzzMessages(f *testing.F) {
	s, err := mcpserver.New(mcpserver.Config{Loader: testLoader, Limits: codemode.Limits{CPUMs: 1000}})
	if err != nil {
		f.Fatal(err)
	}
	h := s.HTTPHandler()
	for _, m := range mcpSeeds {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<14 {
			return
		}
		req := httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			return
		}
		var reqMsg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		single := json.Unmarshal(body, &reqMsg) == nil && len(reqMsg.ID) > 0 && reqMsg.Method != ""
		var resp struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  json.RawMessage `json:"result"`
			Error   json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			if single {
				t.Fatalf("the answer to %q is not one JSON-RPC object: %v\n%s", body, err, rec.Body)
			}
			return
		}
		if !single {
			return
		}
		if resp.JSONRPC != "2.0" || !jsonSame(resp.ID, reqMsg.ID) {
			t.Fatalf("the answer to %q has jsonrpc %q and id %s", body, resp.JSONRPC, resp.ID)
		}
		if (len(resp.Result) > 0) == (len(resp.Error) > 0) {
			t.Fatalf("the answer to %q has both or neither of result and error: %s", body, rec.Body)
		}
		if reqMsg.Method == "tools/call" && reqMsg.Params.Name == mcpserver.ToolRunCode && len(resp.Result) > 0 {
			var res struct {
				IsError           bool            `json:"isError"`
				StructuredContent json.RawMessage `json:"structuredContent"`
			}
			if err := json.Unmarshal(resp.Result, &res); err != nil {
				t.Fatalf("run_code result %s: %v", resp.Result, err)
			}
			if len(res.StructuredContent) > 0 {
				var out mcpserver.RunOutput
				dec := json.NewDecoder(bytes.NewReader(res.StructuredContent))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&out); err != nil {
					t.Fatalf("run_code structured content %s is not a RunOutput: %v", res.StructuredContent, err)
				}
				if out.Error != nil && !knownCodes[out.Error.Code] {
					t.Fatalf("run_code error with an unknown code: %s", res.StructuredContent)
				}
			} else if !res.IsError {
				t.Fatalf("a run_code result without structured content that is not an error: %s", resp.Result)
			}
		}
	})
}

// knownCodes are the codes a run can end with.
var knownCodes = map[isoerr.Code]bool{
	isoerr.InvalidWorkerCode: true, isoerr.WorkerException: true, isoerr.CPULimitExceeded: true,
	isoerr.WallTimeExceeded: true, isoerr.MemoryLimitExceeded: true, isoerr.SubrequestLimitExceeded: true,
	isoerr.OutputLimitExceeded: true, isoerr.CodeTooLarge: true, isoerr.InvalidRequest: true,
	isoerr.NoResponse: true, isoerr.Overloaded: true, isoerr.Canceled: true, isoerr.NotImplemented: true,
}

// jsonSame compares two JSON texts as values.
func jsonSame(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
