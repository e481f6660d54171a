//go:build !unix

package bench

import "time"

func minorFaults() int64 { return -1 }

func processCPU() time.Duration { return -1 }
