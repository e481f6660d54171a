// Command codemode shows an agent loop using isobox's Code Mode: the model is shown the
// tools as a TypeScript API, answers with code instead of one tool call per turn, and
// isobox runs that code in a fresh sandbox where the tools are async methods.
//
//	go run ./examples/codemode
//
// THE MODEL IS SCRIPTED. scriptedModel below stands in for an LLM and returns canned
// replies, so that the example runs offline and always the same way. Put a real model
// behind the Model interface (send it the system prompt and the transcript, get back its
// reply) and the loop stays as it is.
//
// The tools come from two providers: Go functions (an issue tracker kept in memory) and an
// MCP server (a documentation search, started in-process with the MCP Go SDK and reached
// through codemode/mcpconn as any remote MCP server would be).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/mcpconn"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ""); err != nil {
		log.Fatal(err)
	}
}

// Message is one entry of the transcript the model sees.
type Message struct {
	Role    string // "system", "user", "assistant", "tool"
	Content string
}

// Model is what the agent loop needs from a language model: the next reply given the
// transcript. A reply is either code for the execute tool or a final answer.
type Model interface {
	Next(ctx context.Context, transcript []Message) (Reply, error)
}

// Reply is a model's turn.
type Reply struct {
	Code   string // code to run (the model called the execute tool)
	Answer string // the final answer to the user
}

// run is the agent loop, printing the transcript to w; cacheDir is the engine's
// compilation cache ("" for the default).
func run(ctx context.Context, w io.Writer, cacheDir string) error {
	e, err := engine.New(ctx, engine.Config{CacheDir: cacheDir})
	if err != nil {
		return err
	}
	defer e.Close(ctx)
	l, err := loader.New(loader.Config{Engine: e})
	if err != nil {
		return err
	}
	defer l.Close(ctx)

	docs, err := startDocsServer(ctx)
	if err != nil {
		return err
	}
	defer docs.Close()
	providers := []codemode.Provider{trackerTools(), docs.Provider()}

	// The system prompt: how to write code for the tools, and their TypeScript API.
	prompt, err := codemode.Describe(providers...)
	if err != nil {
		return err
	}
	transcript := []Message{
		{Role: "system", Content: prompt},
		{Role: "user", Content: "Which open bugs have no assignee? Add a comment on each linking the triage guide."},
	}
	fmt.Fprintln(w, "=== system prompt (what the model is told) ===")
	fmt.Fprintln(w, prompt)
	fmt.Fprintln(w, "=== user ===")
	fmt.Fprintln(w, transcript[1].Content)

	executor := codemode.NewExecutor(l)
	var model Model = &scriptedModel{}
	for turn := 1; turn <= 5; turn++ {
		reply, err := model.Next(ctx, transcript)
		if err != nil {
			return err
		}
		if reply.Code == "" {
			fmt.Fprintf(w, "\n=== assistant (final answer) ===\n%s\n", reply.Answer)
			return nil
		}
		fmt.Fprintf(w, "\n=== assistant, turn %d: code for the execute tool ===\n%s\n", turn, reply.Code)
		transcript = append(transcript, Message{Role: "assistant", Content: reply.Code})

		res := executor.Execute(ctx, reply.Code, providers, codemode.Options{Limits: codemode.Limits{CPUMs: 500, WallMs: 10000}})
		fmt.Fprintf(w, "\n=== isobox ran it: %d tool calls, %.1f ms ===\n", len(res.Calls), res.WallMs)
		for _, c := range res.Calls {
			outcome := string(c.Result)
			if c.Error != "" {
				outcome = "error: " + c.Error
			}
			fmt.Fprintf(w, "  %s(%s) -> %s\n", c.Name, c.Arguments, outcome)
		}
		transcript = append(transcript, Message{Role: "tool", Content: toolMessage(res)})
		fmt.Fprintf(w, "=== tool result (what the model reads next) ===\n%s\n", transcript[len(transcript)-1].Content)
	}
	return errors.New("the model did not finish in 5 turns")
}

// toolMessage is what the model reads after a run: the value or the error, and the
// console output, as @cloudflare/codemode reports it.
func toolMessage(res codemode.Result) string {
	var b strings.Builder
	if res.Error != nil {
		fmt.Fprintf(&b, "Code execution failed: %s", res.Error.Message)
	} else {
		fmt.Fprintf(&b, "Result: %s", res.Result)
	}
	if len(res.Logs) > 0 {
		b.WriteString("\n\nConsole output:")
		for _, l := range res.Logs {
			b.WriteString("\n" + l.Message)
		}
	}
	return b.String()
}

// scriptedModel is NOT a language model: it replays canned replies, written the way
// models write them (a Markdown fence, a first attempt with a mistake, a fix after
// reading the error), so that the example shows the whole loop without network access.
type scriptedModel struct{ turn int }

func (m *scriptedModel) Next(ctx context.Context, transcript []Message) (Reply, error) {
	m.turn++
	last := transcript[len(transcript)-1].Content
	switch m.turn {
	case 1:
		// A first attempt that gets an input wrong: the host checks it against the schema.
		return Reply{Code: "```js\nasync () => {\n" +
			"  const bugs = await tracker.listIssues({ state: \"open\", label: \"bug\" });\n" +
			"  return bugs.filter(b => !b.assignee);\n}\n```"}, nil
	case 2:
		if !strings.Contains(last, "label") {
			return Reply{}, fmt.Errorf("scripted model: expected a schema error about label, got %q", last)
		}
		// Fixed, and now doing everything in one program: search the docs, list the bugs,
		// comment on each unassigned one in parallel.
		return Reply{Code: "```ts\nasync () => {\n" +
			"  const [hits, bugs] = await Promise.all([\n" +
			"    docs.search_docs({ query: \"triage\" }),\n" +
			"    tracker.listIssues({ state: \"open\", labels: [\"bug\"] }),\n" +
			"  ]);\n" +
			"  const guide: string = hits.results[0].url;\n" +
			"  const unassigned = bugs.filter(b => !b.assignee);\n" +
			"  console.log(`${unassigned.length} of ${bugs.length} open bugs are unassigned`);\n" +
			"  await Promise.all(unassigned.map(b =>\n" +
			"    tracker.addComment({ issue: b.number, body: `Needs an owner: see ${guide}` })));\n" +
			"  return unassigned.map(b => `#${b.number} ${b.title}`);\n}\n```"}, nil
	default:
		return Reply{Answer: "Two open bugs had no assignee, and each now has a comment linking the triage guide:\n" +
			"(from the run) " + strings.TrimPrefix(strings.SplitN(last, "\n", 2)[0], "Result: ")}, nil
	}
}

// The issue tracker: Go functions as tools, their schemas inferred from the types.

type Issue struct {
	Number   int      `json:"number"`
	Title    string   `json:"title"`
	State    string   `json:"state"`
	Labels   []string `json:"labels"`
	Assignee string   `json:"assignee,omitempty"`
}

type ListIssuesInput struct {
	State  string   `json:"state,omitempty" jsonschema:"open or closed (default: both)"`
	Labels []string `json:"labels,omitempty" jsonschema:"only issues with all of these labels"`
}

type AddCommentInput struct {
	Issue int    `json:"issue" jsonschema:"the issue number"`
	Body  string `json:"body" jsonschema:"Markdown"`
}

type Comment struct {
	Issue int    `json:"issue"`
	ID    int    `json:"id"`
	URL   string `json:"url"`
}

func trackerTools() codemode.Provider {
	issues := []Issue{
		{1, "Crash on empty config", "open", []string{"bug"}, ""},
		{2, "Add dark mode", "open", []string{"feature"}, "ana"},
		{3, "Timeout too short", "open", []string{"bug"}, "li"},
		{4, "Typo in the README", "closed", []string{"docs"}, ""},
		{5, "Leak in the cache", "open", []string{"bug", "perf"}, ""},
	}
	var nextComment atomic.Int64 // the executor runs parallel calls concurrently
	nextComment.Store(100)
	return codemode.Provider{Name: "tracker", Description: "The project's issue tracker.", Tools: []codemode.Tool{
		codemode.NewTool("listIssues", "List issues, newest first.", func(ctx context.Context, in ListIssuesInput) ([]Issue, error) {
			var out []Issue
			for i := len(issues) - 1; i >= 0; i-- {
				is := issues[i]
				if in.State != "" && is.State != in.State {
					continue
				}
				if !hasAll(is.Labels, in.Labels) {
					continue
				}
				out = append(out, is)
			}
			return out, nil
		}),
		codemode.NewTool("addComment", "Comment on an issue.", func(ctx context.Context, in AddCommentInput) (Comment, error) {
			if in.Issue < 1 || in.Issue > len(issues) {
				return Comment{}, fmt.Errorf("there is no issue #%d", in.Issue)
			}
			id := int(nextComment.Add(1))
			return Comment{Issue: in.Issue, ID: id, URL: fmt.Sprintf("https://tracker.example/issues/%d#c%d", in.Issue, id)}, nil
		}),
	}}
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// The documentation search: an MCP server, reached through mcpconn like a remote one.

type searchIn struct {
	Query string `json:"query" jsonschema:"words to look for"`
}

type searchOut struct {
	Results []hit `json:"results"`
}

type hit struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

func startDocsServer(ctx context.Context) (*mcpconn.Conn, error) {
	s := mcp.NewServer(&mcp.Implementation{Name: "docs", Title: "Project documentation", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "search_docs", Description: "Search the project's documentation."},
		func(ctx context.Context, req *mcp.CallToolRequest, in searchIn) (*mcp.CallToolResult, searchOut, error) {
			pages := []hit{{"Triage guide", "https://docs.example/triage"}, {"Release process", "https://docs.example/release"}}
			var out searchOut
			for _, p := range pages {
				if strings.Contains(strings.ToLower(p.Title), strings.ToLower(in.Query)) {
					out.Results = append(out.Results, p)
				}
			}
			return nil, out, nil
		})
	st, ct := mcp.NewInMemoryTransports()
	if _, err := s.Connect(ctx, st, nil); err != nil {
		return nil, err
	}
	return mcpconn.Connect(ctx, "docs", ct)
}

func init() {
	log.SetFlags(0)
	log.SetOutput(os.Stderr)
}
