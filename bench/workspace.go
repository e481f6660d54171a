package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/sqlitefile"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
	"github.com/isobox/isobox/workspace/shell"
)

// Workspace holds the workspace figures of issue 13, measured on a real SQLite file in a
// temporary folder (the data directory's settings: WAL, synchronous=FULL).
type Workspace struct {
	// WriteSmallPerS and ReadSmallPerS: 4 KiB files written (each its own durable
	// commit) and read back by a JavaScript worker through its env.FS binding, per second,
	// SmallN of each.
	WriteSmallPerS float64 `json:"ws_write_small_per_s"`
	ReadSmallPerS  float64 `json:"ws_read_small_per_s"`
	SmallN         int     `json:"ws_small_files"`
	// SQLiteInsertPerS: SQLite's own rate for the same durable writes, beside them: one
	// 4 KiB blob per INSERT, each its own commit, same pragmas, same driver.
	SQLiteInsertPerS float64 `json:"sqlite_raw_insert_per_s"`
	// Search10k: searchText for a word over 10,000 files of 5 KiB (50 MiB, 100 hits);
	// GrepR10k: `grep -rn` over the same files laid out on disk, page cache warm (absent
	// when grep is not installed). Medians of SearchN runs each.
	Search10k float64 `json:"ws_search_10k_ms"`
	GrepR10k  float64 `json:"grep_r_10k_ms,omitempty"`
	SearchN   int     `json:"ws_search_samples"`
	// ExecP50: exec("grep -rl TODO . | wc -l") over 1,000 files (the shell in process).
	ExecP50 float64 `json:"ws_exec_p50_ms"`
	ExecN   int     `json:"ws_exec_samples"`
}

// wsWorker writes or reads n 4 KiB files through env.FS per RPC call.
const wsWorker = `import { env } from "cloudflare:workers";
const data = "x".repeat(4095) + "\n";
export default {
  async write(n, from) {
    for (let i = from; i < from + n; i++) await env.FS.writeFile("small/f" + i + ".txt", data);
    return n;
  },
  async read(n, from) {
    let total = 0;
    for (let i = from; i < from + n; i++) total += (await env.FS.readFile("small/f" + i + ".txt")).length;
    return total;
  },
};
`

// runWorkspace measures the workspace figures: small files files through a binding,
// searches runs of the 10k search (and grep), execs runs of the shell figure.
func runWorkspace(ctx context.Context, e *engine.Engine, small, searches, execs int, progress func(string)) (Workspace, error) {
	var w Workspace
	dir, err := os.MkdirTemp("", "isobox-bench-ws-")
	if err != nil {
		return w, err
	}
	defer os.RemoveAll(dir)
	store, err := workspace.Open(filepath.Join(dir, "workspaces.db"), workspace.Limits{})
	if err != nil {
		return w, err
	}
	defer store.Close()

	progress("workspace: small files through env.FS")
	if w.WriteSmallPerS, w.ReadSmallPerS, err = smallFiles(ctx, e, store, small); err != nil {
		return w, err
	}
	w.SmallN = small
	if w.SQLiteInsertPerS, err = sqliteInserts(ctx, filepath.Join(dir, "raw.db"), small); err != nil {
		return w, err
	}

	progress("workspace: search over 10,000 files")
	tree := filepath.Join(dir, "tree")
	if err := searchTree(ctx, store, "search", tree); err != nil {
		return w, err
	}
	ds := make([]time.Duration, 0, searches)
	gs := make([]time.Duration, 0, searches)
	_, grepErr := exec.LookPath("grep")
	for range searches {
		t := time.Now()
		res, err := store.SearchText(ctx, "search", "needle", workspace.SearchOptions{MaxResults: 1000})
		if err != nil {
			return w, err
		}
		ds = append(ds, time.Since(t))
		if len(res.Matches) != 100 {
			return w, fmt.Errorf("searchText found %d matches, want 100", len(res.Matches))
		}
		if grepErr == nil {
			t = time.Now()
			out, err := exec.CommandContext(ctx, "grep", "-rn", "needle", tree).Output()
			if err != nil {
				return w, fmt.Errorf("grep -rn: %w", err)
			}
			gs = append(gs, time.Since(t))
			if n := bytes.Count(out, []byte("\n")); n != 100 {
				return w, fmt.Errorf("grep -rn found %d lines, want 100", n)
			}
		}
	}
	w.Search10k, _, w.SearchN = quantiles(ds)
	if len(gs) > 0 {
		w.GrepR10k, _, _ = quantiles(gs)
	}

	progress("workspace: exec over 1,000 files")
	if err := execTree(ctx, store, "exec"); err != nil {
		return w, err
	}
	ds = ds[:0]
	for range execs {
		t := time.Now()
		res, err := shell.Run(ctx, store, "exec", "grep -rl TODO . | wc -l", shell.Options{})
		if err != nil {
			return w, err
		}
		ds = append(ds, time.Since(t))
		if strings.TrimSpace(res.Stdout) != "500" || res.ExitCode != 0 {
			return w, fmt.Errorf("exec: %q (exit %d), want 500", res.Stdout, res.ExitCode)
		}
	}
	w.ExecP50, _, w.ExecN = quantiles(ds)
	return w, nil
}

// smallFiles writes then reads n 4 KiB files through a worker's binding, in calls of 50.
func smallFiles(ctx context.Context, e *engine.Engine, store workspace.Store, n int) (writes, reads float64, err error) {
	l, err := loader.New(loader.Config{Engine: e, Workspaces: store})
	if err != nil {
		return 0, 0, err
	}
	defer l.Close(ctx)
	code := loader.WorkerCode{
		CompatibilityDate: "2026-11-01", MainModule: "main.js",
		Modules:  map[string]loader.Module{"main.js": loader.JS(wsWorker)},
		Bindings: map[string]api.Binding{"FS": {Workspace: "small"}},
		Limits:   &loader.Limits{CPUMs: 5000, WallMs: 60000},
	}
	stub := l.Get("ws-small", func() (loader.WorkerCode, error) { return code, nil })
	rate := func(method string) (float64, error) {
		const batch = 50
		t := time.Now()
		for from := 0; from < n; from += batch {
			k := min(batch, n-from)
			args, _ := json.Marshal([]int{k, from})
			if _, err := stub.Call(ctx, method, args); err != nil {
				return 0, fmt.Errorf("%s: %w", method, err)
			}
		}
		return float64(n) / time.Since(t).Seconds(), nil
	}
	if writes, err = rate("write"); err != nil {
		return 0, 0, err
	}
	if reads, err = rate("read"); err != nil {
		return 0, 0, err
	}
	return writes, reads, nil
}

// sqliteInserts is SQLite's rate of n durable 4 KiB inserts, each its own commit.
func sqliteInserts(ctx context.Context, path string, n int) (float64, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	dsn, err := sqlitefile.DSN(path, q)
	if err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE f (id INTEGER PRIMARY KEY, data BLOB)"); err != nil {
		return 0, err
	}
	data := bytes.Repeat([]byte("x"), 4096)
	t := time.Now()
	for range n {
		if _, err := db.ExecContext(ctx, "INSERT INTO f (data) VALUES (?)", data); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(t).Seconds(), nil
}

// searchTree fills workspace ws and the folder dir with the same 10,000 files of 5 KiB,
// 100 of them holding "needle" once.
func searchTree(ctx context.Context, store workspace.Store, ws, dir string) error {
	line := strings.Repeat("lorem ipsum dolor sit amet ", 3) + "\n" // 82 bytes
	body := strings.Repeat(line, 5120/len(line))
	return fillTree(ctx, store, ws, dir, 10000, func(i int) string {
		if i%100 == 0 {
			return body + "the needle is here\n"
		}
		return body
	})
}

// execTree fills workspace ws with 1,000 files of 4 KiB, half of them with a TODO at the end.
func execTree(ctx context.Context, store workspace.Store, ws string) error {
	body := "package x\n" + strings.Repeat("// filler line of a source file, nothing to see\n", 4096/50)
	return fillTree(ctx, store, ws, "", 1000, func(i int) string {
		if i%2 == 0 {
			return body + "// TODO: finish " + strconv.Itoa(i) + "\n"
		}
		return body
	})
}

// fillTree writes n files d<i/100>/f<i>.txt of content(i) into workspace ws in one
// extraction (one commit), and on disk under dir unless it is "".
func fillTree(ctx context.Context, store workspace.Store, ws, dir string, n int, content func(int) string) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := range n {
		name := fmt.Sprintf("d%d/f%d.txt", i/100, i)
		c := content(i)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write([]byte(c)); err != nil {
			return err
		}
		if dir != "" {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	_, err := store.Extract(ctx, ws, "/", &buf, workspace.ExtractLimits{})
	return err
}
