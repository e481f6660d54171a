package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// verdict's written order, over combinations of signals: the first that applies wins, and
// only the failures that leave the sandbox's state unknown break it.
func TestVerdictPrecedence(t *testing.T) {
	canceled := isoerr.New(isoerr.Canceled, "canceled")
	cpu := isoerr.New(isoerr.CPULimitExceeded, "cpu")
	wall := isoerr.New(isoerr.WallTimeExceeded, "wall")
	overflow := isoerr.New(isoerr.OutputLimitExceeded, "body too large")
	noResponse := isoerr.New(isoerr.NoResponse, "never settles")
	protocol := isoerr.New(isoerr.WorkerException, "the worker broke the runtime")
	answer := isoerr.New(isoerr.MethodNotFound, "no method")
	tooLarge := isoerr.New(isoerr.OutputLimitExceeded, "result too large")
	exception := []byte(`{"name":"Error","message":"boom"}`)
	overflowTrap := errors.New("wasm error: stack overflow")
	otherTrap := errors.New("wasm error: unreachable")

	tests := []struct {
		name   string
		s      signals
		code   isoerr.Code
		msg    string // a part of the message, when the code does not tell the signals apart
		breaks bool
	}{
		{"nothing", signals{}, "", "", false},
		{"caller canceled", signals{stopped: canceled}, isoerr.Canceled, "", true},
		{"canceled beats everything after it", signals{stopped: canceled, memRefused: true, trap: otherTrap, exception: exception, uncatchable: true, overflow: overflow, protocol: protocol}, isoerr.Canceled, "", true},
		{"cpu beats the uncatchable error it caused", signals{stopped: cpu, exception: exception, uncatchable: true}, isoerr.CPULimitExceeded, "", true},
		{"cpu beats the rejection the guest made of it", signals{stopped: cpu, answer: answer}, isoerr.CPULimitExceeded, "", true},
		{"wall beats a trap", signals{stopped: wall, trap: otherTrap}, isoerr.WallTimeExceeded, "", true},
		{"memory refused", signals{memRefused: true}, isoerr.MemoryLimitExceeded, "", true},
		{"memory beats the trap it caused", signals{memRefused: true, trap: otherTrap}, isoerr.MemoryLimitExceeded, "", true},
		{"memory beats QuickJS's out of memory", signals{memRefused: true, exception: exception, uncatchable: true}, isoerr.MemoryLimitExceeded, "", true},
		{"memory beats a caught out of memory", signals{memRefused: true, answer: answer}, isoerr.MemoryLimitExceeded, "", true},
		{"stack overflow", signals{trap: overflowTrap}, isoerr.WorkerException, "Maximum call stack size", true},
		{"stack overflow beats an output overflow", signals{trap: overflowTrap, overflow: overflow}, isoerr.WorkerException, "Maximum call stack size", true},
		{"other trap", signals{trap: otherTrap}, isoerr.Internal, "unreachable", true},
		{"trap beats an uncatchable exception", signals{trap: otherTrap, exception: exception, uncatchable: true}, isoerr.Internal, "trapped", true},
		{"uncatchable exception", signals{exception: exception, uncatchable: true}, isoerr.Internal, "boom", true},
		{"uncatchable beats output overflow", signals{exception: exception, uncatchable: true, overflow: overflow}, isoerr.Internal, "boom", true},
		{"output overflow", signals{overflow: overflow}, isoerr.OutputLimitExceeded, "body too large", false},
		{"output overflow beats the exception it raised", signals{overflow: overflow, exception: exception}, isoerr.OutputLimitExceeded, "body too large", false},
		{"guest exception", signals{exception: exception}, isoerr.WorkerException, "boom", false},
		{"guest exception beats no response", signals{exception: exception, noResponse: noResponse}, isoerr.WorkerException, "boom", false},
		{"no response", signals{noResponse: noResponse}, isoerr.NoResponse, "", false},
		{"broken protocol", signals{protocol: protocol}, isoerr.WorkerException, "broke the runtime", true},
		{"broken protocol beats an answer", signals{protocol: protocol, answer: answer}, isoerr.WorkerException, "broke the runtime", true},
		{"answer", signals{answer: answer}, isoerr.MethodNotFound, "", false},
		{"answer beats too large", signals{answer: answer, tooLarge: tooLarge}, isoerr.MethodNotFound, "", false},
		{"result too large", signals{tooLarge: tooLarge}, isoerr.OutputLimitExceeded, "result too large", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			err, breaks := verdict(&s, 64<<20)
			if tt.code == "" {
				if err != nil || breaks {
					t.Fatalf("got %v (breaks %v), want no error", err, breaks)
				}
				return
			}
			if err == nil || err.Code != tt.code || breaks != tt.breaks {
				t.Fatalf("got %v (breaks %v), want %s (breaks %v)", err, breaks, tt.code, tt.breaks)
			}
			if tt.msg != "" && !strings.Contains(err.Message, tt.msg) {
				t.Fatalf("got %q, want a message with %q", err.Message, tt.msg)
			}
		})
	}
}
