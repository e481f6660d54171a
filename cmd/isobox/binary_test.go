package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// built is the isobox binary the tests that need a real process share: it is built once per
// test run, into the run's temporary directory.
var built struct {
	once sync.Once
	path string
	err  string
}

// buildIsobox returns the path of this command built as a binary. It builds with -race when
// the test binary has it, so that the packages come from the build cache the test run has
// just filled and only the link is paid.
func buildIsobox(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		bin := filepath.Join(cacheDir, "isobox-bin")
		args := []string{"build", "-o", bin}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args = append(args, "-race")
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", append(args, ".")...).CombinedOutput(); err != nil {
			built.err = "go " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out)
			return
		}
		built.path = bin
	})
	if built.err != "" {
		t.Fatal(built.err)
	}
	return built.path
}
