package seccomp

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"
)

// holds is the reference semantics of a condition on one argument value.
func holds(c Cond, v uint64, narrow bool) bool {
	if narrow {
		v &= 0xffffffff
	}
	if c.Masked {
		v &= c.Mask
	}
	switch c.Op {
	case OpEq:
		return v == c.Value
	case OpNe:
		return v != c.Value
	case OpLt:
		return v < c.Value
	case OpLe:
		return v <= c.Value
	case OpGt:
		return v > c.Value
	case OpGe:
		return v >= c.Value
	}
	return false
}

// interesting returns values near v's word boundaries, where 64-bit
// comparisons split into two 32-bit ones go wrong.
func interesting(r *rand.Rand, v uint64) []uint64 {
	out := []uint64{0, 1, 0xffffffff, 1 << 32, ^uint64(0), v, v + 1, v - 1,
		v ^ 1<<32, v ^ 1, v + 1<<32, v - 1<<32, v &^ 0xffffffff, v | 0xffffffff, r.Uint64(), r.Uint64() & 0xffffffff}
	return out
}

func randValue(r *rand.Rand) uint64 {
	switch r.IntN(4) {
	case 0:
		return uint64(r.IntN(8))
	case 1:
		return r.Uint64() & 0xffffffff
	case 2:
		return r.Uint64()
	default:
		return uint64(r.IntN(4))<<32 | uint64(r.IntN(4))
	}
}

// TestCondCompileMatchesReference compiles random single conditions on a
// 64-bit argument (lseek arg1) and a 32-bit one (ioctl arg1) and compares
// the interpreter's verdict with the reference semantics on boundary values.
func TestCondCompileMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		call, narrow := "lseek", false
		if i%2 == 1 {
			call, narrow = "ioctl", true
		}
		c := Cond{Arg: 1, Op: Op(r.IntN(6)), Value: randValue(r)}
		if r.IntN(2) == 0 {
			m1, m2 := randValue(r), randValue(r)
			c.Masked, c.Op, c.Mask = true, Op(r.IntN(2)), m1|m2
			if r.IntN(3) == 0 {
				c.Mask = 1 << r.IntN(64)
			}
			c.Value &= c.Mask
			if r.IntN(3) == 0 {
				c.Value = c.Mask
			}
		}
		if narrow {
			c.Value &= 0xffffffff
			c.Mask &= 0xffffffff
		}
		p := &Policy{Default: Allow, Rules: []Rule{{Names: []string{call}, Conds: []Cond{c}, Action: Errno(unix.EDOM), Origin: "test"}}}
		for _, arch := range testArchs {
			prog, err := p.Compile(arch)
			if err != nil {
				t.Fatalf("compile %v: %v", c, err)
			}
			for _, v := range interesting(r, c.Value) {
				want := Allow
				if holds(c, v, narrow) {
					want = Errno(unix.EDOM)
				}
				if got := eval(t, prog, arch, call, 0, v); got != want {
					t.Fatalf("%s %v with arg1=%#x: got %v, want %v\n%s", call, c, v, got, want, disasm(prog))
				}
			}
		}
	}
}

// TestConjunctionsAndLongJumps builds policies large enough that jumps no
// longer fit in 8 bits and checks every verdict against the reference.
func TestConjunctionsAndLongJumps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 20; round++ {
		p := &Policy{Default: Errno(unix.EPERM)}
		calls := []string{"ioctl", "lseek", "fcntl", "mmap", "read", "socket"}
		for i := 0; i < 120; i++ {
			var conds []Cond
			for j := 0; j <= r.IntN(3); j++ {
				c := Cond{Arg: r.IntN(3), Op: Op(r.IntN(6)), Value: randValue(r) & 0xffffffff}
				if r.IntN(3) == 0 {
					c.Masked, c.Op, c.Mask = true, Op(r.IntN(2)), randValue(r)&0xffffffff
					c.Value &= c.Mask
				}
				conds = append(conds, c)
			}
			p.Rules = append(p.Rules, Rule{
				Names:  []string{calls[r.IntN(len(calls))]},
				Conds:  conds,
				Action: Errno(unix.Errno(1 + i)),
				Origin: fmt.Sprint("rule ", i),
			})
		}
		for _, arch := range testArchs {
			prog, err := p.Compile(arch)
			if err != nil {
				t.Fatal(err)
			}
			trampolines := 0
			for _, in := range prog {
				if in.Code == unix.BPF_JMP|unix.BPF_JA {
					trampolines++
				}
			}
			if trampolines == 0 {
				t.Fatalf("%s: %d instructions without a single ja: the test no longer exercises long jumps", arch, len(prog))
			}
			if round == 0 {
				t.Logf("%s: %d rules compile to %d instructions with %d trampolines", arch, len(p.Rules), len(prog), trampolines)
			}
			for k := 0; k < 300; k++ {
				call := calls[r.IntN(len(calls))]
				args := []uint64{randValue(r), randValue(r), randValue(r)}
				// Pick arguments that hit some rule's values now and then.
				if rr := p.Rules[r.IntN(len(p.Rules))]; rr.Names[0] == call && r.IntN(2) == 0 {
					for _, c := range rr.Conds {
						args[c.Arg] = c.Value
					}
				}
				want := p.Default
				for i := len(p.Rules) - 1; i >= 0; i-- {
					rule := p.Rules[i]
					if rule.Names[0] != call {
						continue
					}
					all := true
					for _, c := range rule.Conds {
						all = all && holds(c, args[c.Arg], argIs32(call, c.Arg))
					}
					if all {
						want = rule.Action
						break
					}
				}
				if got := eval(t, prog, arch, call, args...); got != want {
					t.Fatalf("%s %s(%#x) = %v, want %v", arch, call, args, got, want)
				}
			}
		}
	}
}

// TestAllActionsEncode checks the SECCOMP_RET value of each action kind.
func TestAllActionsEncode(t *testing.T) {
	cases := []struct {
		text string
		want uint32
	}{
		{"allow", unix.SECCOMP_RET_ALLOW},
		{"deny", unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{"errno ENOSYS", unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"errno 0", unix.SECCOMP_RET_ERRNO},
		{"kill-process", unix.SECCOMP_RET_KILL_PROCESS},
		{"kill-thread", unix.SECCOMP_RET_KILL_THREAD},
		{"trap", unix.SECCOMP_RET_TRAP},
		{"log", unix.SECCOMP_RET_LOG},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			prog := mustBuild(t, Config{Mode: "file", File: "default allow\n" + tc.text + " uname\n", Arch: "x86_64"})
			ret, err := runBPF(prog, seccompData{nr: 63, arch: unix.AUDIT_ARCH_X86_64})
			if err != nil {
				t.Fatal(err)
			}
			if ret != tc.want {
				t.Errorf("ret = %#x, want %#x", ret, tc.want)
			}
		})
	}
}

// TestEveryCallOfEveryArch runs the default filter on every number of each
// table and checks the verdict against the policy's intent computed from the
// groups, so a binary search boundary mistake cannot hide.
func TestEveryCallOfEveryArch(t *testing.T) {
	denied, _ := expandName("@default-deny")
	deny := map[string]bool{}
	for _, n := range denied {
		deny[n] = true
	}
	argDependent := map[string]bool{"ioctl": true, "personality": true, "clone": true, "unshare": true, "clone3": true}
	for _, arch := range testArchs {
		prog := mustBuild(t, Config{Arch: arch})
		a, _ := lookupArch(arch)
		for nr := 0; nr <= a.maxNr+2; nr++ {
			name, ok := a.names[nr]
			want := Allow
			switch {
			case !ok:
				want = enosys
			case argDependent[name]:
				continue
			case deny[name]:
				want = eperm
			}
			ret, err := runBPF(prog, seccompData{nr: uint32(nr), arch: a.audit, args: [6]uint64{0, unix.TCGETS}})
			if err != nil {
				t.Fatal(err)
			}
			if got := verdict(ret); got != want {
				t.Errorf("%s: %d (%s) = %v, want %v", arch, nr, name, got, want)
			}
		}
	}
}

func TestPolicyWithUnknownNamesFailsToCompile(t *testing.T) {
	p := &Policy{Default: Allow, Rules: []Rule{{Names: []string{"nosuchcall"}, Action: Deny, Origin: "rule 1"}}}
	if _, err := p.Compile("x86_64"); err == nil || err.Error() != `rule 1: unknown syscall "nosuchcall"` {
		t.Errorf("err = %v", err)
	}
	p = &Policy{Default: Allow, Rules: []Rule{{Names: []string{"ioctl"}, Conds: []Cond{{Arg: 1, Value: 1 << 40}}, Action: Deny, Origin: "rule 1"}}}
	if _, err := p.Compile("x86_64"); err == nil {
		t.Error("a 64-bit value on ioctl's 32-bit request compiled")
	}
}

// TestLongConjunction makes every condition's fail jump span hundreds of
// instructions, so most conditional jumps need a trampoline.
func TestLongConjunction(t *testing.T) {
	r := Rule{Names: []string{"lseek"}, Action: Errno(unix.EDOM), Origin: "test"}
	for i := 0; i < 150; i++ {
		r.Conds = append(r.Conds, Cond{Arg: 1, Op: OpNe, Value: uint64(i) << 31})
	}
	p := &Policy{Default: Allow, Rules: []Rule{r}}
	for _, arch := range testArchs {
		prog, err := p.Compile(arch)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d instructions", arch, len(prog))
		for _, v := range []uint64{0, 1 << 31, 149 << 31, 150 << 31, 1, 5, 1<<31 + 1, ^uint64(0)} {
			want := Errno(unix.EDOM)
			if v%(1<<31) == 0 && v>>31 < 150 {
				want = Allow
			}
			if got := eval(t, prog, arch, "lseek", 0, v); got != want {
				t.Errorf("%s: lseek(0, %#x) = %v, want %v", arch, v, got, want)
			}
		}
	}
}

// TestSharedReturns: search leaves that decide without arguments jump to one
// return per verdict, placed after everything else, and a policy with one
// verdict for every number is a single jump to it; the verdicts are those of
// the policy either way.
func TestSharedReturns(t *testing.T) {
	uniform := &Policy{Default: Allow}
	prog, err := uniform.Compile("x86_64")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := lookupArch("x86_64")
	for _, nr := range []uint32{0, 1, 59, uint32(a.maxNr), uint32(a.maxNr) + 1, x32SyscallBit - 1} {
		ret, err := runBPF(prog, seccompData{nr: nr, arch: a.audit})
		if err != nil || verdict(ret) != Allow {
			t.Errorf("uniform allow: nr %d = %v (%v), want allow", nr, verdict(ret), err)
		}
	}
	// Alternating verdicts: many leaves, two returns between them.
	p := &Policy{Default: Allow}
	for nr := 0; nr < 60; nr += 2 {
		p.Rules = append(p.Rules, Rule{Names: []string{a.names[nr]}, Action: Errno(unix.EPERM), Origin: "rule"})
	}
	prog, err = p.Compile("x86_64")
	if err != nil {
		t.Fatal(err)
	}
	rets := map[uint32]int{}
	for _, in := range prog {
		if in.Code == unix.BPF_RET|unix.BPF_K {
			rets[in.K]++
		}
	}
	for k, n := range rets {
		if n != 1 {
			t.Errorf("return %#x appears %d times, want once", k, n)
		}
	}
	for nr := 0; nr < 62; nr++ {
		want := Allow
		if nr%2 == 0 && nr < 60 {
			if _, ok := a.names[nr]; ok {
				want = eperm
			}
		}
		ret, err := runBPF(prog, seccompData{nr: uint32(nr), arch: a.audit})
		if err != nil {
			t.Fatal(err)
		}
		if got := verdict(ret); got != want {
			t.Errorf("nr %d = %v, want %v", nr, got, want)
		}
	}
}
