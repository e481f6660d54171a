// Package proccpu tells how much CPU time the current process has used, for benchmarks
// that report CPU per operation (steadier than ns/op on a loaded machine, which counts
// waiting for a core). It reads getrusage on Unix and GetProcessTimes on Windows.
package proccpu
