//go:build !unix

package engine_test

// minorFaults is the process's count of minor page faults: 0 and false here, where
// getrusage is missing.
func minorFaults() (int64, bool) { return 0, false }
