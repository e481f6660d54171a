package shell

import (
	"context"
	"encoding/json"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// ExecArgs are the JSON arguments of a binding's "exec" operation (env.FS.exec).
type ExecArgs struct {
	Command   string            `json:"command"`
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	TimeoutMs int64             `json:"timeoutMs,omitempty"` // at most DefaultTimeout
	MaxOutput int64             `json:"maxOutput,omitempty"` // at most DefaultMaxOutput
}

// Serve answers the "exec" operation of a sandbox's filesystem binding b: it runs
// args.Command in b.Workspace (read-only when the binding is) and returns the Result as
// JSON. A script that fails is a result; a limit that stops it is a typed error.
//
// # Errors
//
// invalid_request for arguments that do not decode or an empty command, and Run's errors.
func Serve(ctx context.Context, store workspace.Store, b api.Binding, args json.RawMessage) (json.RawMessage, error) {
	var a ExecArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "fs exec: %v", err)
	}
	if a.Command == "" {
		return nil, isoerr.New(isoerr.InvalidRequest, "exec: the command is empty")
	}
	opts := Options{Dir: a.Cwd, Env: a.Env, ReadOnly: b.ReadOnly,
		Timeout: min(time.Duration(a.TimeoutMs)*time.Millisecond, DefaultTimeout), MaxOutput: min(a.MaxOutput, DefaultMaxOutput)}
	res, err := Run(ctx, store, b.Workspace, a.Command, opts)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// Bindings is workspace.Bindings with the shell: the host side of a sandbox's
// filesystem bindings (an engine.FSFunc) that answers "exec" here and every other
// operation through the store.
func Bindings(store workspace.Store, bindings map[string]api.Binding) func(ctx context.Context, binding, op string, args json.RawMessage) (json.RawMessage, error) {
	serve := workspace.Bindings(store, bindings)
	return func(ctx context.Context, name, op string, args json.RawMessage) (json.RawMessage, error) {
		b, ok := bindings[name]
		if op != "exec" || !ok {
			return serve(ctx, name, op, args)
		}
		return Serve(ctx, store, b, args)
	}
}
