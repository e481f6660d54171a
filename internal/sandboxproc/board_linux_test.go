package sandboxproc

import (
	"bufio"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// burnEnv makes the test binary a process that posts call 1 on the call board (fd 4),
// says so on stdout and burns CPU on that thread without end: a built-in that never polls.
const burnEnv = "ISOBOX_SANDBOXPROC_TEST_BURN"

func burn() {
	b, err := openBoard(boardFD)
	if err != nil {
		panic(err)
	}
	tid, cpu, _ := pinThread()
	if _, ok := b.post(1, tid, cpu, false); !ok {
		panic("the board is full")
	}
	os.Stdout.WriteString("posted\n")
	for x := 0; ; x++ {
	}
}

// The board: a call posted by the worker side is found by the supervisor side with its
// thread and start CPU time, and gone once cleared; a full board refuses a post (the
// worker then sends a msgStarted frame).
func TestCallBoard(t *testing.T) {
	sb, err := newBoard()
	if err != nil {
		t.Fatal(err)
	}
	defer sb.close()
	fd, err := syscall.Dup(int(sb.f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	wb, err := openBoard(fd)
	if err != nil {
		t.Fatal(err)
	}
	before := monoNow()
	s, ok := wb.post(42, 1234, 5*time.Millisecond, false)
	if !ok {
		t.Fatal("post refused")
	}
	if tid, cpu0, at, ok := sb.find(42); !ok || tid != 1234 || cpu0 != 5*time.Millisecond || at < before || at > monoNow() {
		t.Fatalf("find: %d %v %d %v", tid, cpu0, at, ok)
	}
	if _, _, _, ok := sb.find(43); ok {
		t.Fatal("found a call never posted")
	}
	wb.clear(s)
	if _, _, _, ok := sb.find(42); ok {
		t.Fatal("found a cleared call")
	}
	// A call that waits for its worker's slot is on the board without a start until the
	// slot is taken (the slot's earlier call's moment is not kept).
	s, _ = wb.post(7, 1234, 0, true)
	if _, _, at, ok := sb.find(7); !ok || at != 0 {
		t.Fatalf("a waiting call: %d %v", at, ok)
	}
	before = monoNow()
	wb.slotTaken(s)
	if _, _, at, _ := sb.find(7); at < before || at > monoNow() {
		t.Fatalf("slot taken at %d, not between %d and now", at, before)
	}
	wb.clear(s)
	for i := range boardSlots {
		if _, ok := wb.post(uint64(i+1), 1, 0, false); !ok {
			t.Fatalf("post %d refused", i)
		}
	}
	if _, ok := wb.post(9999, 1, 0, false); ok {
		t.Fatal("a full board took a post")
	}
	// The supervisor's mapping is read-only and the file cannot shrink under it.
	if err := syscall.Ftruncate(fd, 0); err == nil {
		t.Fatal("the board's file could be shrunk")
	}
}

// The CPU watchdog finds a call's thread on the call board: a process whose call burns CPU
// without polling is killed once the call has used its CPU bound plus the margin, and the
// call gets cpu_limit_exceeded.
func TestWatchdogReadsCallBoard(t *testing.T) {
	sb, err := newBoard()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), burnEnv+"=1")
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	cmd.ExtraFiles = []*os.File{devnull, sb.f} // fd 3 unused, fd 4 the board
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "posted\n" {
		t.Fatalf("the burning process says %q (%v)", line, err)
	}
	p := &Pool{cfg: Config{Margin: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}}
	pr := &proc{p: p, cmd: cmd, board: sb, calls: map[uint64]*call{}}
	c := &call{id: 1, cpu: 10 * time.Millisecond, wall: time.Hour, wallLimit: time.Hour, start: time.Now()}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pr.mu.Lock()
	pr.calls[c.id] = c
	pr.armLocked(c)
	pr.mu.Unlock()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-time.After(time.Minute): // 3000x the bound: the watchdog did not see the call
		cmd.Process.Kill()
		<-exited
		t.Fatal("the watchdog did not kill a process burning CPU")
	}
	pr.stopWatch(c)
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the process ended with %v, want killed", waitErr)
	}
	pr.mu.Lock()
	killedFor, killErr := pr.killedFor, pr.killErr
	pr.mu.Unlock()
	if killedFor != 1 || isoerr.CodeOf(killErr) != isoerr.CPULimitExceeded {
		t.Fatalf("killed for call %d with %v, want call 1 with cpu_limit_exceeded", killedFor, killErr)
	}
	if p.Kills() != 1 {
		t.Fatalf("kills = %d", p.Kills())
	}
}
