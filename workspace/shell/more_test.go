package shell

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/isobox/isobox/workspace"
)

// Several scripts at once on one workspace: each append lands, none is torn.
func TestConcurrentRuns(t *testing.T) {
	st := newStore(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			res, err := Run(context.Background(), st, testWS, fmt.Sprintf("for i in 1 2 3; do echo g%d-$i >> log; done; grep -c g%d- log", g, g), Options{})
			if err != nil || res.Stdout != "3\n" {
				errs <- fmt.Errorf("run %d: %+v %v", g, res, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := readFile(t, st, "log")
	if n := strings.Count(got, "\n"); n != 24 {
		t.Errorf("log has %d lines, want 24:\n%s", n, got)
	}
}

// A hostile archive's names stay inside the extraction directory.
func TestTarNamesStayInside(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"../../escape.txt", "/abs.txt", "ok/fine.txt"} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: 2, Mode: 0o644})
		tw.Write([]byte("x\n"))
	}
	tw.WriteHeader(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../../../etc/passwd"})
	tw.Close()
	st := newStore(t, nil)
	if _, err := st.Write(context.Background(), testWS, "evil.tar", &buf, workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	res := run(t, st, "mkdir sub; tar xf evil.tar -C sub; find / -type f | sort")
	if res.Stdout != "/evil.tar\n/sub/abs.txt\n/sub/escape.txt\n/sub/ok/fine.txt\n" {
		t.Errorf("extracted: %q (stderr %q)", res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "link") || res.ExitCode != 0 {
		t.Errorf("the escaping symlink: stderr %q exit %d, want it refused", res.Stderr, res.ExitCode)
	}
}
