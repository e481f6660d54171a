//go:build !unix

package server

// lockDataDir does not lock on this platform: running two servers on one data directory
// is the operator's mistake to avoid.
func lockDataDir(string) (func(), error) { return func() {}, nil }
