package workspace

import (
	"context"
	"encoding/json"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// stateOp answers one operation of the state API beyond the filesystem calls (search,
// replace, diff, JSON, archives, hashes) for a binding; args are the op's JSON arguments.
type stateOp func(ctx context.Context, s Store, b api.Binding, args json.RawMessage) (json.RawMessage, error)

// stateArgs are the arguments of the state operations (each uses some).
type stateArgs struct {
	Path         string          `json:"path"`
	To           string          `json:"to"`
	Paths        []string        `json:"paths"`
	Pattern      string          `json:"pattern"`
	Glob         string          `json:"glob"`
	Query        string          `json:"query"`
	Update       *JSONUpdate     `json:"update"`
	Search       string          `json:"search"`
	Replace      *string         `json:"replace"`
	Text         *string         `json:"text"`
	Algo         string          `json:"algo"`
	Regex        bool            `json:"regex"`
	IgnoreCase   bool            `json:"ignoreCase"`
	Once         bool            `json:"once"`
	DryRun       bool            `json:"dryRun"`
	IfMatch      string          `json:"ifMatch"`
	IfNoneMatch  string          `json:"ifNoneMatch"`
	ContextLines int             `json:"contextLines"`
	MaxResults   int             `json:"maxResults"`
	Value        json.RawMessage `json:"value"`
}

// stateOps are the operations Serve answers with a stateOp.
var stateOps = map[string]stateOp{
	"queryjson": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("queryJson", raw)
		if err != nil {
			return nil, err
		}
		v, found, err := s.QueryJSON(ctx, b.Workspace, a.Path, a.Query)
		if err != nil {
			return nil, err
		}
		return json.Marshal(struct {
			Found bool            `json:"found"`
			Value json.RawMessage `json:"value,omitempty"`
		}{found, v})
	},
	"updatejson": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("updateJson", raw)
		if err != nil {
			return nil, err
		}
		if err := writable(b, false); err != nil {
			return nil, err
		}
		if a.Update == nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "updateJson: update is missing")
		}
		return marshal(s.UpdateJSON(ctx, b.Workspace, a.Path, *a.Update, WriteOptions{IfMatch: a.IfMatch, IfNoneMatch: a.IfNoneMatch}))
	},
	"search": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("searchText", raw)
		if err != nil {
			return nil, err
		}
		return marshal(s.SearchText(ctx, b.Workspace, a.Pattern, SearchOptions{Glob: a.Glob, Regex: a.Regex, IgnoreCase: a.IgnoreCase,
			ContextLines: a.ContextLines, MaxResults: a.MaxResults}))
	},
	"findfiles": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("searchFiles", raw)
		if err != nil {
			return nil, err
		}
		return marshal(s.SearchFiles(ctx, b.Workspace, a.Glob, a.MaxResults))
	},
	"replace": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("replaceInFile", raw)
		if err != nil {
			return nil, err
		}
		if err := writable(b, a.DryRun); err != nil {
			return nil, err
		}
		if a.Replace == nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "replaceInFile: replace is missing")
		}
		return marshal(s.ReplaceInFile(ctx, b.Workspace, a.Path, a.Search, *a.Replace, a.replaceOptions()))
	},
	"replaceall": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("replaceInFiles", raw)
		if err != nil {
			return nil, err
		}
		if err := writable(b, a.DryRun); err != nil {
			return nil, err
		}
		if a.Replace == nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "replaceInFiles: replace is missing")
		}
		return marshal(s.ReplaceInFiles(ctx, b.Workspace, a.Glob, a.Search, *a.Replace, a.replaceOptions()))
	},
	"diff": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("diff", raw)
		if err != nil {
			return nil, err
		}
		if a.Text != nil {
			return marshal(s.DiffText(ctx, b.Workspace, a.Path, *a.Text))
		}
		return marshal(s.Diff(ctx, b.Workspace, a.Path, a.To))
	},
	"archive": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("createArchive", raw)
		if err != nil {
			return nil, err
		}
		if err := writable(b, false); err != nil {
			return nil, err
		}
		return marshal(s.CreateArchive(ctx, b.Workspace, a.Paths, a.To))
	},
	"extract": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("extractArchive", raw)
		if err != nil {
			return nil, err
		}
		if err := writable(b, false); err != nil {
			return nil, err
		}
		return marshal(s.ExtractArchive(ctx, b.Workspace, a.Path, a.To, ExtractLimits{}))
	},
	"hash": func(ctx context.Context, s Store, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
		a, err := decodeState("hashFile", raw)
		if err != nil {
			return nil, err
		}
		return marshal(s.HashFile(ctx, b.Workspace, a.Path, a.Algo))
	},
}

func decodeState(op string, raw json.RawMessage) (stateArgs, error) {
	var a stateArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, isoerr.New(isoerr.InvalidRequest, "%s: %v", op, err)
	}
	return a, nil
}

func (a stateArgs) replaceOptions() ReplaceOptions {
	return ReplaceOptions{Regex: a.Regex, IgnoreCase: a.IgnoreCase, Once: a.Once, DryRun: a.DryRun, IfMatch: a.IfMatch}
}

// writable refuses a change through a read-only binding (a dry run changes nothing).
func writable(b api.Binding, dryRun bool) error {
	if b.ReadOnly && !dryRun {
		return isoerr.New(isoerr.ReadOnly, "this binding of workspace %q is read-only", b.Workspace)
	}
	return nil
}
