//go:build !linux

package bench

func threadMinorFaults() int64 { return -1 }

func threadCPU() int64 { return -1 }
