//go:build !linux

package sandboxproc

// burnEnv names the burning process of the call-board tests, which run on Linux only
// (board_linux_test.go); no test starts one elsewhere.
const burnEnv = "ISOBOX_SANDBOXPROC_TEST_BURN"

func burn() { panic("sandboxproc: the burning test process runs on Linux only") }
