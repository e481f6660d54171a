package sandboxproc

import (
	"os"
	"syscall"
	"testing"
)

// The worker process takes the blocking path only for what the supervisor gives it: a
// socket in blocking mode. A non-blocking socket or another kind of file keeps Go's poller.
func TestBlockingSocket(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if err := syscall.SetNonblock(fds[1], true); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tt := range []struct {
		name string
		fd   int
		want bool
	}{
		{"blocking socket", fds[0], true},
		{"non-blocking socket", fds[1], false},
		{"pipe", int(r.Fd()), false},
		{"closed descriptor", 1 << 20, false},
	} {
		if got := blockingSocket(tt.fd); got != tt.want {
			t.Errorf("%s: blockingSocket = %v, want %v", tt.name, got, tt.want)
		}
	}
}
