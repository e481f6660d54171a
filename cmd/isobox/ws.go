package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

const wsUsage = `Usage:
  isobox ws ls                          list the server's workspaces
  isobox ws ls WS [DIR]                 list every entry under DIR (default the root) of WS
  isobox ws cat WS PATH                 print a file
  isobox ws put WS PATH [FILE]          write a file from FILE (default: stdin)
  isobox ws rm [-r] WS PATH...          remove files (-r: directories with their contents)
  isobox ws grep [flags] WS PATTERN     search the files' text (grep -rn)
  isobox ws exec WS 'SCRIPT'            run a shell script over WS; exit with its status
  isobox ws pull WS DIR                 download WS (or --path P) into local DIR (tar.gz)
  isobox ws push DIR WS                 upload local DIR into WS (or its --path P), all or nothing
  isobox ws info WS                     size, entry count and quota
  isobox ws quota WS --bytes N --files N   set the quota (0: the server's default)
  isobox ws drop WS                     delete a workspace with everything in it
`

func cmdWS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, wsUsage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) int{
		"ls": cmdWSLs, "cat": cmdWSCat, "put": cmdWSPut, "rm": cmdWSRm, "grep": cmdWSGrep, "exec": cmdWSExec,
		"pull": cmdWSPull, "push": cmdWSPush, "info": cmdWSInfo, "quota": cmdWSQuota, "drop": cmdWSDrop,
	}
	if f := cmds[args[0]]; f != nil {
		return f(ctx, args[1:], stdout, stderr)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, wsUsage)
		return 0
	}
	fmt.Fprintf(stderr, "isobox: unknown ws command %q\n\n%s", args[0], wsUsage)
	return 2
}

// wsCommand parses a ws subcommand's flags and makes its client: npos positional
// arguments (negative: at least -npos).
func wsCommand(fs *flag.FlagSet, r *remote, args []string, npos int, usage string, stderr io.Writer) (*client.Client, []string, int, bool) {
	pos, code, ok := parseRemote(fs, args, npos, usage, stderr)
	if !ok {
		return nil, nil, code, false
	}
	c, ok := r.client(stderr)
	if !ok {
		return nil, nil, 2, false
	}
	return c, pos, 0, true
}

func cmdWSLs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws ls", flag.ContinueOnError)
	var r remote
	r.register(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: isobox ws ls [WS [DIR]]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil || len(pos) > 2 {
		if err == nil {
			fs.Usage()
		}
		return 2
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	if len(pos) == 0 {
		var all []api.Workspace
		for after := ""; ; {
			page, err := c.ListWorkspaces(ctx, client.ListOptions{After: after, Limit: 1000})
			if err != nil {
				return fail(stderr, r.server, err)
			}
			all = append(all, page.Workspaces...)
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		if r.jsonOut {
			printJSONLine(stdout, all)
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tBYTES\tENTRIES\tQUOTA BYTES\tQUOTA ENTRIES")
		for _, w := range all {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", w.Name, w.Bytes, w.Files, w.QuotaBytes, w.QuotaFiles)
		}
		tw.Flush()
		return 0
	}
	dir := ""
	if len(pos) == 2 {
		dir = pos[1]
	}
	entries, err := c.Tree(ctx, pos[0], dir)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, entries)
		return 0
	}
	for _, e := range entries {
		switch e.Type {
		case "directory":
			fmt.Fprintf(stdout, "%s/\n", e.Path)
		case "symlink":
			fmt.Fprintf(stdout, "%s -> %s\n", e.Path, e.Target)
		default:
			fmt.Fprintf(stdout, "%s\t%d\n", e.Path, e.Size)
		}
	}
	return 0
}

func cmdWSCat(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws cat", flag.ContinueOnError)
	var r remote
	r.register(fs)
	c, pos, code, ok := wsCommand(fs, &r, args, 2, "isobox ws cat WS PATH", stderr)
	if !ok {
		return code
	}
	f, err := c.GetFile(ctx, pos[0], pos[1], client.FileOptions{})
	if err != nil {
		return fail(stderr, r.server, err)
	}
	defer f.Body.Close()
	if _, err := io.Copy(stdout, f.Body); err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	return 0
}

func cmdWSPut(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws put", flag.ContinueOnError)
	var r remote
	r.register(fs)
	ifMatch := fs.String("if-match", "", "write only if the file's etag is this one (*: if it exists)")
	create := fs.Bool("create", false, "write only if the file does not exist (If-None-Match: *)")
	c, pos, code, ok := wsCommand(fs, &r, args, -2, "isobox ws put [flags] WS PATH [FILE]", stderr)
	if !ok {
		return code
	}
	if len(pos) > 3 {
		fs.Usage()
		return 2
	}
	var body io.Reader = os.Stdin
	size := int64(-1)
	if len(pos) == 3 && pos[2] != "-" {
		f, err := os.Open(pos[2])
		if err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 2
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		body = f
	}
	opts := client.FileOptions{IfMatch: *ifMatch}
	if *create {
		opts.IfNoneMatch = "*"
	}
	info, err := c.PutFile(ctx, pos[0], pos[1], body, size, opts)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, info)
	} else {
		fmt.Fprintf(stdout, "wrote %s (%d bytes, etag %s)\n", info.Path, info.Size, info.ETag)
	}
	return 0
}

func cmdWSRm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws rm", flag.ContinueOnError)
	var r remote
	r.register(fs)
	recursive := fs.Bool("r", false, "remove directories with everything in them")
	c, pos, code, ok := wsCommand(fs, &r, args, -2, "isobox ws rm [-r] WS PATH...", stderr)
	if !ok {
		return code
	}
	for _, p := range pos[1:] {
		if err := c.DeleteFile(ctx, pos[0], p, *recursive); err != nil {
			return fail(stderr, r.server, err)
		}
	}
	return 0
}

func cmdWSGrep(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws grep", flag.ContinueOnError)
	var r remote
	r.register(fs)
	var q api.WorkspaceSearch
	fs.StringVar(&q.Glob, "glob", "", `search only files matching this glob ("*.go": in any directory)`)
	fs.BoolVar(&q.Regex, "E", false, "the pattern is a regular expression (RE2)")
	fs.BoolVar(&q.IgnoreCase, "i", false, "ignore case")
	fs.IntVar(&q.ContextLines, "C", 0, "lines of context around each match")
	fs.IntVar(&q.MaxResults, "max", 0, "at most this many matches (0: the server's default)")
	c, pos, code, ok := wsCommand(fs, &r, args, 2, "isobox ws grep [flags] WS PATTERN", stderr)
	if !ok {
		return code
	}
	q.Pattern = pos[1]
	res, err := c.Search(ctx, pos[0], q)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, res)
		return 0
	}
	for _, m := range res.Matches {
		for i, l := range m.Before {
			fmt.Fprintf(stdout, "%s-%d-%s\n", m.Path, m.Line-len(m.Before)+i, l)
		}
		fmt.Fprintf(stdout, "%s:%d:%s\n", m.Path, m.Line, m.Text)
		for i, l := range m.After {
			fmt.Fprintf(stdout, "%s-%d-%s\n", m.Path, m.Line+1+i, l)
		}
	}
	if res.Truncated {
		fmt.Fprintln(stderr, "isobox: more matches were left out (--max)")
	}
	if len(res.Matches) == 0 {
		return 1 // as grep: nothing found
	}
	return 0
}

func cmdWSExec(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws exec", flag.ContinueOnError)
	var r remote
	r.register(fs)
	dir := fs.String("dir", "", "working directory inside the workspace (default /)")
	c, pos, code, ok := wsCommand(fs, &r, args, 2, "isobox ws exec [--dir DIR] WS 'SCRIPT'", stderr)
	if !ok {
		return code
	}
	res, err := c.Exec(ctx, pos[0], api.ExecRequest{Command: pos[1], Dir: *dir})
	if res != nil {
		io.WriteString(stdout, res.Stdout)
		io.WriteString(stderr, res.Stderr)
	}
	if err != nil {
		return fail(stderr, r.server, err)
	}
	return min(max(res.ExitCode, 0), 255)
}

func cmdWSInfo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws info", flag.ContinueOnError)
	var r remote
	r.register(fs)
	c, pos, code, ok := wsCommand(fs, &r, args, 1, "isobox ws info WS", stderr)
	if !ok {
		return code
	}
	w, err := c.Workspace(ctx, pos[0])
	if err != nil {
		return fail(stderr, r.server, err)
	}
	printJSON(stdout, w)
	return 0
}

func cmdWSQuota(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws quota", flag.ContinueOnError)
	var r remote
	r.register(fs)
	var q api.WorkspaceQuota
	fs.Int64Var(&q.QuotaBytes, "bytes", 0, "content bytes the workspace may hold (0: the server's default)")
	fs.Int64Var(&q.QuotaFiles, "files", 0, "entries the workspace may hold (0: the server's default)")
	c, pos, code, ok := wsCommand(fs, &r, args, 1, "isobox ws quota WS --bytes N --files N", stderr)
	if !ok {
		return code
	}
	w, err := c.SetWorkspaceQuota(ctx, pos[0], q)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	printJSON(stdout, w)
	return 0
}

func cmdWSDrop(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws drop", flag.ContinueOnError)
	var r remote
	r.register(fs)
	c, pos, code, ok := wsCommand(fs, &r, args, 1, "isobox ws drop WS", stderr)
	if !ok {
		return code
	}
	if err := c.DeleteWorkspace(ctx, pos[0]); err != nil {
		return fail(stderr, r.server, err)
	}
	fmt.Fprintf(stdout, "deleted workspace %s\n", pos[0])
	return 0
}

func cmdWSPull(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws pull", flag.ContinueOnError)
	var r remote
	r.register(fs)
	from := fs.String("path", "", "the directory of the workspace to pull (default: all of it)")
	c, pos, code, ok := wsCommand(fs, &r, args, 2, "isobox ws pull [--path P] WS DIR", stderr)
	if !ok {
		return code
	}
	if err := os.MkdirAll(pos[1], 0o755); err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	var paths []string
	if *from != "" {
		paths = []string{*from}
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := c.DownloadArchive(ctx, pos[0], paths, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	n, xerr := extractLocal(pr, pos[1])
	pr.CloseWithError(errors.New("the extraction stopped")) // unblocks the download
	derr := <-done
	var ie *isoerr.Error
	switch {
	case errors.As(derr, &ie):
		return fail(stderr, r.server, derr) // the server's answer, typed
	case xerr != nil:
		fmt.Fprintf(stderr, "isobox: pull: %v (%d entries written)\n", xerr, n)
		return 1
	case derr != nil:
		return fail(stderr, r.server, derr)
	}
	fmt.Fprintf(stdout, "pulled %d entries into %s\n", n, pos[1])
	return 0
}

// extractLocal writes the tar.gz read from r under directory dir and never outside it:
// every write goes through an os.Root of dir (no "..", no absolute name, no symlink on the
// way leads out), and a symlink is made only when its target stays inside dir. Entries of
// other kinds are skipped. It returns how many entries it wrote.
func extractLocal(r io.Reader, dir string) (int, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	gz, err := gzip.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("not a tar.gz: %w", err)
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || strings.ContainsRune(name, 0) {
			return n, fmt.Errorf("entry %q would land outside %s", h.Name, dir)
		}
		if name == "." {
			continue
		}
		local := filepath.FromSlash(name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(local, 0o755)
		case tar.TypeReg:
			if err = root.MkdirAll(filepath.Dir(local), 0o755); err == nil {
				err = writeRootFile(root, local, tr)
			}
		case tar.TypeSymlink:
			t := h.Linkname
			if path.IsAbs(t) || strings.HasPrefix(path.Join(path.Dir(name), t), "..") {
				return n, fmt.Errorf("symlink %q -> %q would point outside %s", h.Name, t, dir)
			}
			if err = root.MkdirAll(filepath.Dir(local), 0o755); err == nil {
				_ = root.Remove(local)
				err = root.Symlink(t, local)
			}
		default:
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func writeRootFile(root *os.Root, name string, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cmdWSPush(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ws push", flag.ContinueOnError)
	var r remote
	r.register(fs)
	to := fs.String("path", "", "the directory of the workspace to push into (default: its root)")
	c, pos, code, ok := wsCommand(fs, &r, args, 2, "isobox ws push [--path P] DIR WS", stderr)
	if !ok {
		return code
	}
	if st, err := os.Stat(pos[0]); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "isobox: push: %s is not a directory\n", pos[0])
		return 2
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archiveLocal(pos[0], pw)) }()
	res, err := c.UploadArchive(ctx, pos[1], *to, pr)
	pr.Close()
	if err != nil {
		return fail(stderr, r.server, err)
	}
	fmt.Fprintf(stdout, "pushed %d files, %d directories, %d symlinks (%d bytes) into %s\n", res.Files, res.Dirs, res.Symlinks, res.Bytes, pos[1])
	return 0
}

// archiveLocal writes a tar.gz of directory dir's contents to w: files, directories and
// symlinks (as symlinks; the server refuses one that leads out of the workspace).
func archiveLocal(dir string, w io.Writer) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // devices, sockets, pipes: not files
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, info.Size())
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
