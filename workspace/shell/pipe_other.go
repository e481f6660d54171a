//go:build !unix

package shell

import "io"

// brokenPipe cannot poll a pipe here: a write to a pipe whose reading end is closed fails
// instead, with the error the command reports.
func brokenPipe(w io.Writer) bool { return false }
