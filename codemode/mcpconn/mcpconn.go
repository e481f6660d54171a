// Package mcpconn turns the tools of an MCP server into a codemode.Provider: isobox is the
// MCP client (github.com/modelcontextprotocol/go-sdk), the model's code calls the server's
// tools as methods of one namespace, and every call is a tools/call on the session.
//
//	c, err := mcpconn.Connect(ctx, "docs", mcpconn.HTTP("https://mcp.example.com/mcp", nil))
//	defer c.Close()
//	res := executor.Execute(ctx, code, []codemode.Provider{c.Provider()}, codemode.Options{})
//
// A tool's result becomes the value of the promise in the sandbox: its structured content
// when it has some, else its text (several text parts joined by newlines), else its
// content parts as MCP JSON. A result marked isError rejects the promise with its text.
package mcpconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/codemode"
)

// Conn is a session with an MCP server. Its tools are listed when it connects and again
// when the server says they changed. Safe for concurrent use.
type Conn struct {
	name    string
	session *mcp.ClientSession
	mu      sync.Mutex
	tools   []codemode.Tool
	desc    string
	raw     *rawSchemas // the schemas' text, in the server's order (raw.go)
}

// Version is what isobox calls itself in the MCP handshake.
var Version = "dev"

// Connect opens a session over t, lists the server's tools and returns the connection;
// name is the provider's namespace (a JavaScript identifier).
//
// # Errors
//
// When the transport cannot connect, the handshake fails, or the tools cannot be listed.
func Connect(ctx context.Context, name string, t mcp.Transport) (*Conn, error) {
	c := &Conn{name: name, raw: newRawSchemas()}
	client := mcp.NewClient(&mcp.Implementation{Name: "isobox-codemode", Version: Version}, &mcp.ClientOptions{
		ToolListChangedHandler: func(ctx context.Context, _ *mcp.ToolListChangedRequest) {
			go c.refresh(context.WithoutCancel(ctx))
		},
	})
	s, err := client.Connect(ctx, c.raw.watch(t), nil)
	if err != nil {
		return nil, fmt.Errorf("mcp server %q: connect: %w", name, err)
	}
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()
	if err := c.refresh(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return c, nil
}

// refresh lists the server's tools again.
func (c *Conn) refresh(ctx context.Context) error {
	c.mu.Lock()
	s := c.session
	c.mu.Unlock()
	if s == nil {
		return nil // a change announced during the handshake: Connect lists the tools next
	}
	var tools []codemode.Tool
	for t, err := range s.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("mcp server %q: tools/list: %w", c.name, err)
		}
		tools = append(tools, c.tool(s, t))
	}
	desc := fmt.Sprintf("The tools of the MCP server %q.", c.name)
	if r := s.InitializeResult(); r != nil && r.ServerInfo != nil {
		title := r.ServerInfo.Title
		if title == "" {
			title = r.ServerInfo.Name
		}
		desc = fmt.Sprintf("The tools of the MCP server %q (%s).", c.name, title)
	}
	desc += " A tool with unknown output returns its text output as a string."
	c.mu.Lock()
	c.tools, c.desc = tools, desc
	c.mu.Unlock()
	return nil
}

func (c *Conn) tool(s *mcp.ClientSession, t *mcp.Tool) codemode.Tool {
	name := t.Name
	ct := codemode.Tool{Name: name, Description: t.Description}
	if ct.Description == "" {
		ct.Description = t.Title
	}
	if t.InputSchema != nil {
		ct.InputSchema = c.raw.schema(name, false, t.InputSchema)
	}
	if t.OutputSchema != nil {
		ct.OutputSchema = c.raw.schema(name, true, t.OutputSchema)
	}
	ct.Func = func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
		var a any
		if len(args) > 0 && string(args) != "null" {
			a = args
		}
		res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: a})
		if err != nil {
			return nil, err
		}
		return Result(res)
	}
	return ct
}

// Provider returns the server's tools as a provider named after the connection.
func (c *Conn) Provider() codemode.Provider {
	c.mu.Lock()
	defer c.mu.Unlock()
	return codemode.Provider{Name: c.name, Description: c.desc, Tools: append([]codemode.Tool(nil), c.tools...)}
}

// Close ends the session (and stops a command server).
func (c *Conn) Close() error { return c.session.Close() }

// maxErrorText bounds the text of an isError result carried in the rejection.
const maxErrorText = 4000

// Result turns a tools/call result into the value the sandbox sees; see the package doc.
func Result(res *mcp.CallToolResult) (json.RawMessage, error) {
	if res == nil {
		return json.RawMessage("null"), nil
	}
	var text []string
	allText := true
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			text = append(text, t.Text)
		} else {
			allText = false
		}
	}
	if res.IsError {
		msg := strings.Join(text, "\n")
		if msg == "" {
			msg = "the tool reported an error"
		}
		if len(msg) > maxErrorText {
			msg = msg[:maxErrorText] + "..."
		}
		return nil, errors.New(msg)
	}
	if res.StructuredContent != nil {
		return json.Marshal(res.StructuredContent)
	}
	if allText {
		return json.Marshal(strings.Join(text, "\n"))
	}
	return json.Marshal(res.Content)
}

// HTTP is the streamable HTTP transport to url; header (may be nil) is sent with every
// request, e.g. an Authorization the server needs. The model's code never sees it.
func HTTP(url string, header http.Header) mcp.Transport {
	client := &http.Client{}
	if len(header) > 0 {
		client.Transport = headerTransport{h: header.Clone(), rt: http.DefaultTransport}
	}
	return &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: client, MaxRetries: 2}
}

type headerTransport struct {
	h  http.Header
	rt http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return t.rt.RoundTrip(r)
}

// Command is the stdio transport to a server started as cmd (its stdin and stdout carry
// the protocol; set cmd.Stderr to see its log).
func Command(cmd *exec.Cmd) mcp.Transport { return &mcp.CommandTransport{Command: cmd} }
