package codemode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/isobox/isobox/codemode/internal/toolset"
)

// ToolFunc runs a tool on the host. args is the JSON argument the sandbox's code passed,
// already checked against the tool's InputSchema; the result must be JSON. An error
// rejects the promise in the sandbox with the error's message.
type ToolFunc func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)

// Tool is one function the model's code can call: what an MCP server's tools/list or an
// OpenAPI operation describes, plus the host function that runs it.
type Tool struct {
	// Name is the tool's own name ("search-web"); the code calls it by its sanitised form
	// (SanitizeName: codemode.search_web) or, with brackets, by this name.
	Name string
	// Description becomes the method's JSDoc.
	Description string
	// InputSchema is the JSON Schema of the argument (draft 2020-12 or draft-07; local
	// $refs only). Arguments are checked against it before Func runs. nil: any value.
	InputSchema json.RawMessage
	// OutputSchema, when set, is the JSON Schema of the result: it types the promise the
	// method returns (nil: unknown).
	OutputSchema json.RawMessage
	// Func runs the tool.
	Func ToolFunc
}

// Provider is a set of tools under one namespace: a global object in the sandbox
// (codemode.searchWeb(...), github.listIssues(...)), as @cloudflare/codemode's
// ToolProvider.
type Provider struct {
	// Name is the namespace, a JavaScript identifier ("" is "codemode").
	Name string
	// Description, when set, is the namespace's JSDoc.
	Description string
	Tools       []Tool
}

// DefaultNamespace is the namespace of a Provider without a name.
const DefaultNamespace = "codemode"

func (p Provider) namespace() string {
	if p.Name == "" {
		return DefaultNamespace
	}
	return p.Name
}

// NewTool makes a tool from a Go function, with its JSON Schemas inferred from In and Out
// (as the MCP Go SDK's AddTool does: struct fields by their json names, `jsonschema:"..."`
// tags as descriptions; fields without omitempty are required).
//
//	type SearchIn struct {
//		Query string `json:"query" jsonschema:"what to search for"`
//		Limit int    `json:"limit,omitempty"`
//	}
//	tool := codemode.NewTool("searchWeb", "Search the web.", func(ctx context.Context, in SearchIn) ([]Hit, error) {...})
//
// # Notes
//
// It panics when a schema cannot be inferred from In or Out (a channel, a func, a map with
// non-string keys): a programming error, found the first time the code runs. Out = any
// (or json.RawMessage) gives no output schema.
func NewTool[In, Out any](name, description string, fn func(ctx context.Context, in In) (Out, error)) Tool {
	in := inferSchema[In](name, "input")
	out := inferSchema[Out](name, "output")
	return Tool{Name: name, Description: description, InputSchema: in, OutputSchema: out,
		Func: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
			var v In
			if len(args) > 0 && string(args) != "null" {
				if err := json.Unmarshal(args, &v); err != nil {
					return nil, fmt.Errorf("invalid input: %v", strings.TrimPrefix(err.Error(), "json: "))
				}
			}
			r, err := fn(ctx, v)
			if err != nil {
				return nil, err
			}
			return json.Marshal(r)
		}}
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func inferSchema[T any](tool, what string) json.RawMessage {
	t := reflect.TypeFor[T]()
	if t == nil || t == rawMessageType || (t.Kind() == reflect.Interface && t.NumMethod() == 0) {
		return nil
	}
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("codemode.NewTool(%q): cannot infer the %s schema from %v: %v", tool, what, t, err))
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("codemode.NewTool(%q): %s schema: %v", tool, what, err))
	}
	return b
}

// Connectors are the named providers a server offers to Code Mode (its configured MCP
// servers and OpenAPI documents), with what must be closed when it stops. Safe for
// concurrent use.
type Connectors struct {
	mu        sync.Mutex
	providers map[string]func() Provider
	order     []string
	closers   []func() error
	modules   []Module
}

// NewConnectors returns an empty set.
func NewConnectors() *Connectors { return &Connectors{providers: map[string]func() Provider{}} }

// Add registers p under its namespace; closer (may be nil) runs on Close.
//
// # Errors
//
// When the namespace is not a valid one or is taken.
func (c *Connectors) Add(p Provider, closer func() error) error {
	p.Name = p.namespace()
	return c.AddLive(p.Name, func() Provider { return p }, closer)
}

// AddLive registers a provider whose tools may change, such as an MCP server that
// announces new tools (mcpconn.Conn.Provider): get is called on every Select.
//
// # Errors
//
// As Add.
func (c *Connectors) AddLive(name string, get func() Provider, closer func() error) error {
	if name == "" {
		name = DefaultNamespace
	}
	if err := toolset.CheckNamespace(name); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.providers[name]; ok {
		return fmt.Errorf("codemode: two connectors are named %q", name)
	}
	c.providers[name] = func() Provider {
		p := get()
		p.Name = name
		return p
	}
	c.order = append(c.order, name)
	if closer != nil {
		c.closers = append(c.closers, closer)
	}
	return nil
}

// Names lists the connectors in the order they were added.
func (c *Connectors) Names() []string {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...)
}

// Select returns the providers named, in that order; no names means all of them.
//
// # Errors
//
// An error naming the unknown connector and listing the configured ones.
func (c *Connectors) Select(names []string) ([]Provider, error) {
	if c == nil {
		if len(names) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("no connector is named %q: none are configured", names[0])
	}
	c.mu.Lock()
	if len(names) == 0 {
		names = c.order
	}
	gets := make([]func() Provider, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		get, ok := c.providers[n]
		if !ok {
			known := append([]string(nil), c.order...)
			c.mu.Unlock()
			sort.Strings(known)
			if len(known) == 0 {
				return nil, fmt.Errorf("no connector is named %q: none are configured", n)
			}
			return nil, fmt.Errorf("no connector is named %q (configured: %s)", n, strings.Join(known, ", "))
		}
		if !seen[n] {
			seen[n] = true
			gets = append(gets, get)
		}
	}
	c.mu.Unlock()
	out := make([]Provider, len(gets))
	for i, get := range gets {
		out[i] = get()
	}
	return out, nil
}

// Close runs every closer, last added first, and returns their errors joined.
func (c *Connectors) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	closers := c.closers
	c.closers = nil
	c.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	return errors.Join(errs...)
}
