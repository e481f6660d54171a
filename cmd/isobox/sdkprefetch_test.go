package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sdkPrefetch is the npm install of the MCP TypeScript SDK for TestMCPTypeScriptSDK, which
// TestMain starts in the background when that test is to run: from an empty npm cache the
// install takes ~30 s, two thirds of them waiting on the registry (2026-12-03: 30.8 s wall,
// 9.6 s of CPU), time a one-core CI spends on the tests that run before it instead.
var sdkPrefetch struct {
	dir  string        // "" when not started
	done chan struct{} // closed when the install has ended
	err  error
}

// startSDKPrefetch starts the install if TestMCPTypeScriptSDK is selected.
func startSDKPrefetch() {
	if !willRun("TestMCPTypeScriptSDK") {
		return
	}
	dir, err := os.MkdirTemp("", "isobox-mcp-sdk")
	if err != nil {
		return // the test installs it itself
	}
	sdkPrefetch.dir, sdkPrefetch.done = dir, make(chan struct{})
	go func() {
		defer close(sdkPrefetch.done)
		sdkPrefetch.err = installNPM(dir, mcpSDKPackage, mcpSDKVersion)
	}()
}

// endSDKPrefetch waits for the install, if one was started, and removes its folder.
func endSDKPrefetch() {
	if sdkPrefetch.dir == "" {
		return
	}
	<-sdkPrefetch.done
	os.RemoveAll(sdkPrefetch.dir)
}

// sdkDir returns a folder with the SDK installed: the prefetched one, or a new one.
func sdkDir(t *testing.T) string {
	t.Helper()
	if sdkPrefetch.dir == "" {
		dir := t.TempDir()
		if err := installNPM(dir, mcpSDKPackage, mcpSDKVersion); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	<-sdkPrefetch.done
	if sdkPrefetch.err != nil {
		t.Fatal(sdkPrefetch.err)
	}
	return sdkPrefetch.dir
}

// willRun says whether -test.run and -test.skip select the top-level test name (by the
// first slash-separated part of each pattern). A wrong answer costs only the overlap, or
// an install nobody uses.
func willRun(name string) bool {
	if f := flag.Lookup("test.list"); f == nil || f.Value.String() != "" {
		return false
	}
	matches := func(flagName string, ifEmpty bool) bool {
		f := flag.Lookup(flagName)
		if f == nil || f.Value.String() == "" {
			return ifEmpty
		}
		re, err := regexp.Compile(strings.Split(f.Value.String(), "/")[0])
		return err == nil && re.MatchString(name)
	}
	return matches("test.run", true) && !matches("test.skip", false)
}

// installNPM installs pkg@version into dir with npm (its cache kept where npm keeps it,
// so that a second run is fast). Without node and npm it fails: CI has them.
func installNPM(dir, pkg, version string) error {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed: this test drives isobox with the official MCP TypeScript SDK and needs node and npm on PATH (%v)", tool, err)
		}
	}
	manifest, _ := json.Marshal(map[string]any{"name": "isobox-mcp-sdk-test", "private": true, "type": "module",
		"dependencies": map[string]string{pkg: version}})
	if err := os.WriteFile(filepath.Join(dir, "package.json"), manifest, 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install %s@%s: %v\n%s", pkg, version, err, out)
	}
	return nil
}
