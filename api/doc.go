// Package api is the wire contract of isobox: the JSON types of the HTTP API (`isobox
// serve`), `isobox run --json` and the Go client, the rules for worker ids and session
// names, and where the error codes are. It is what a program needs to talk to isobox and
// nothing else: it imports only the standard library and isoerr, so a client of isobox
// never compiles the engine (wazero, QuickJS) — the way wazero's own api package stands
// apart from its runtime.
//
//	code := api.WorkerCode{MainModule: "main.js", Modules: map[string]api.Module{
//		"main.js": api.JS(`export default { fetch() { return new Response("hi") } }`),
//	}}
//	b, _ := json.Marshal(code) // the body of PUT /v1/workers/{id}
//
// # Errors
//
// Every error the API answers with is {"error": {"code", "message", "stack"}}: an
// isoerr.Error (see ErrorBody). Its codes are the constants of package isoerr, which is
// the one place they are defined; branch on them with isoerr.CodeOf.
//
// # Compatibility
//
// Field names never change meaning. Decoders should ignore fields they do not know (the
// server adds fields over time); the server itself rejects unknown fields in what it is
// sent.
package api

import "github.com/isobox/isobox/isoerr"

// ErrorBody is the JSON of every error answer: {"error": {"code", "message"}}.
type ErrorBody struct {
	Error *isoerr.Error `json:"error"`
}
