package confine

import (
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// TestSyscallNamesExist: a misspelt name would be dropped silently (names the running
// architecture lacks are skipped), leaving a syscall allowed that the tripwire or the
// deny list meant to stop; every name must exist on amd64 or arm64.
func TestSyscallNamesExist(t *testing.T) {
	lists := map[string][]string{"tripwire": tripwire, "denied": denied, "clone3": {"clone3"}}
	for _, g := range allowGroups {
		lists["allow: "+g.why] = g.names
	}
	for list, names := range lists {
		for _, n := range names {
			_, amd := arch.X86_64.SyscallNames[n]
			_, arm := arch.AARCH64.SyscallNames[n]
			if !amd && !arm {
				t.Errorf("%s: %q is no syscall on amd64 or arm64", list, n)
			}
		}
	}
	// No syscall is both allowed and denied or a tripwire.
	allowed := map[string]bool{}
	for _, g := range allowGroups {
		for _, n := range g.names {
			allowed[n] = true
		}
	}
	for _, n := range append(append([]string{"clone", "clone3", "prlimit64", "tgkill"}, tripwire...), without(denied, "kill")...) {
		if allowed[n] {
			t.Errorf("%q is in the allow-list and also denied or conditional", n)
		}
	}
}

// TestSeccompPolicyAssembles: the policy compiles to BPF on this architecture.
func TestSeccompPolicyAssembles(t *testing.T) {
	pol, err := seccompPolicy(1234)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Assemble(); err != nil {
		t.Fatalf("assemble: %v", err)
	}
}
