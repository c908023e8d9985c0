package seccomp

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// seccomp_data field offsets (linux/seccomp.h). Both supported architectures
// are little-endian, so an argument's low word comes first.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// x32Action is what the filter returns for x32 system calls on x86_64: the
// same as a kernel built without CONFIG_X86_X32_ABI.
var x32Action = Errno(unix.ENOSYS)

// check is one rule as it applies to one system call number.
type check struct {
	conds  []Cond
	narrow uint8 // narrowArgs bits of the call
	action Action
}

// handler decides one system call number: try checks in order, else fallback.
type handler struct {
	checks   []check
	fallback Action
}

// key identifies handlers with identical behaviour, so neighbouring numbers
// with the same key share code.
func (h handler) key() string {
	var b strings.Builder
	for _, c := range h.checks {
		fmt.Fprintf(&b, "%x|%v|%v;", c.narrow, c.conds, c.action)
	}
	fmt.Fprintf(&b, "=>%v", h.fallback)
	return b.String()
}

// segment is a run of system call numbers [lo, hi] with one handler.
type segment struct {
	lo, hi uint32
	h      handler
}

// Compile translates the policy into a seccomp BPF program for arch
// ("x86_64", "aarch64", "amd64", "arm64", or "" for the running
// architecture). The program kills the process when seccomp_data.arch is
// not arch, fails x32 calls on x86_64 with ENOSYS, and then finds the call's
// handler by binary search over the system call number.
func (p *Policy) Compile(arch string) ([]unix.SockFilter, error) {
	a, err := lookupArch(arch)
	if err != nil {
		return nil, err
	}
	segs, err := p.segments(a)
	if err != nil {
		return nil, err
	}
	var as asm
	ok, kill := as.newLabel(), as.newLabel()
	as.loadAbs(offArch)
	as.jump(unix.BPF_JEQ, a.audit, ok, kill)
	as.place(kill)
	as.ret(unix.SECCOMP_RET_KILL_PROCESS)
	as.place(ok)
	as.loadAbs(offNr)
	if a.x32 {
		x32, native := as.newLabel(), as.newLabel()
		as.jump(unix.BPF_JGE, x32SyscallBit, x32, native)
		as.place(x32)
		as.ret(x32Action.ret())
		as.place(native)
	}
	rets := sharedRets{as: &as}
	if l, ok := rets.leaf(segs); ok {
		as.jump(unix.BPF_JEQ, 0, l, l) // the whole space has one verdict
	} else {
		emitSearch(&as, segs, as.newLabel(), &rets)
	}
	rets.emit()
	return as.link()
}

// sharedRets gives each action that ends a search leaf one return
// instruction, emitted after all the code that jumps to it: a binary search
// ends in dozens of leaves with the same few verdicts, and every instruction
// saved is work the kernel does not do when it installs the filter (it
// converts, checks and JIT-compiles each one, for every sandbox).
type sharedRets struct {
	as     *asm
	labels map[uint32]label
	order  []uint32
}

// leaf returns the shared return label for segs when they are one segment
// that decides without looking at arguments.
func (r *sharedRets) leaf(segs []segment) (label, bool) {
	if len(segs) != 1 || len(segs[0].h.checks) > 0 {
		return 0, false
	}
	k := segs[0].h.fallback.ret()
	if r.labels == nil {
		r.labels = map[uint32]label{}
	}
	l, ok := r.labels[k]
	if !ok {
		l = r.as.newLabel()
		r.labels[k] = l
		r.order = append(r.order, k)
	}
	return l, true
}

// emit places the shared returns, in the order they were first used.
func (r *sharedRets) emit() {
	for _, k := range r.order {
		r.as.place(r.labels[k])
		r.as.ret(k)
	}
}

// segments computes the handler of every system call number and merges
// neighbours with the same behaviour.
func (p *Policy) segments(a *archInfo) ([]segment, error) {
	perNr := map[int][]check{}
	for _, r := range p.Rules {
		for _, name := range r.Names {
			calls, err := expandName(name)
			if err == nil {
				for _, c := range r.Conds {
					if err = c.check(calls); err != nil {
						break
					}
				}
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.Origin, err)
			}
			for _, call := range calls {
				nr, ok := a.nrs[call]
				if !ok {
					continue // not a system call on this architecture
				}
				perNr[nr] = append(perNr[nr], check{conds: r.Conds, narrow: narrowArgs()[call], action: r.Action})
			}
		}
	}
	unknown := p.Default
	if p.Unknown != nil {
		unknown = *p.Unknown
	}
	top := uint32(0xffffffff)
	if a.x32 {
		top = x32SyscallBit - 1
	}
	var segs []segment
	add := func(lo, hi uint32, h handler) {
		if n := len(segs); n > 0 && segs[n-1].h.key() == h.key() {
			segs[n-1].hi = hi
			return
		}
		segs = append(segs, segment{lo, hi, h})
	}
	for nr := 0; nr <= a.maxNr; nr++ {
		if _, ok := a.names[nr]; !ok {
			add(uint32(nr), uint32(nr), handler{fallback: unknown})
			continue
		}
		add(uint32(nr), uint32(nr), resolve(perNr[nr], p.Default))
	}
	add(uint32(a.maxNr+1), top, handler{fallback: unknown})
	return segs, nil
}

// resolve orders the checks for one call, last rule first, and drops those
// that can never decide: everything after an unconditional check, and
// trailing checks whose action equals what follows them anyway.
func resolve(checks []check, def Action) handler {
	h := handler{fallback: def}
	for i := len(checks) - 1; i >= 0; i-- {
		c := checks[i]
		if len(c.conds) == 0 {
			h.fallback = c.action
			break
		}
		h.checks = append(h.checks, c)
	}
	for len(h.checks) > 0 && h.checks[len(h.checks)-1].action == h.fallback {
		h.checks = h.checks[:len(h.checks)-1]
	}
	return h
}

// emitSearch emits, at label at, a binary search over segs (sorted,
// contiguous) with the system call number in A. A subtree that is one
// argument-free segment is not emitted: its parent jumps to the shared
// return of its verdict.
func emitSearch(as *asm, segs []segment, at label, rets *sharedRets) {
	as.place(at)
	if len(segs) == 1 {
		emitHandler(as, segs[0].h)
		return
	}
	mid := len(segs) / 2
	left, leftShared := rets.leaf(segs[:mid])
	if !leftShared {
		left = as.newLabel()
	}
	right, rightShared := rets.leaf(segs[mid:])
	if !rightShared {
		right = as.newLabel()
	}
	as.jump(unix.BPF_JGE, segs[mid].lo, right, left)
	if !leftShared {
		emitSearch(as, segs[:mid], left, rets)
	}
	if !rightShared {
		emitSearch(as, segs[mid:], right, rets)
	}
}

// emitHandler emits the argument checks of one handler, each ending in a
// return, followed by the fallback return.
func emitHandler(as *asm, h handler) {
	for _, c := range h.checks {
		next := as.newLabel()
		acc := -1 // seccomp_data offset whose unmodified word is in A, or -1
		for _, cond := range c.conds {
			pass := as.newLabel()
			acc = emitCond(as, cond, c.narrow&(1<<cond.Arg) != 0, acc, pass, next)
			as.place(pass)
		}
		as.ret(c.action.ret())
		as.place(next)
	}
	as.ret(h.fallback.ret())
}

// emitCond emits code that jumps to pass when cond holds and to fail
// otherwise. narrow means only the low 32 bits of the argument count. acc is
// the offset whose word A holds on entry (-1 if unknown); the result is the
// same for the pass edge.
func emitCond(as *asm, c Cond, narrow bool, acc int, pass, fail label) int {
	out := emitCondCode(as, c, narrow, acc, pass, fail)
	// A pass edge taken after comparing the high word leaves that word (or a
	// masked copy) in A, so only == conditions can promise the low word.
	if !narrow && c.Op != OpEq && (!c.Masked || c.Mask>>32 != 0) {
		return -1
	}
	return out
}

func emitCondCode(as *asm, c Cond, narrow bool, acc int, pass, fail label) int {
	lo := uint32(offArgs + 8*c.Arg)
	hi := lo + 4
	vlo, vhi := uint32(c.Value), uint32(c.Value>>32)
	mlo, mhi := uint32(c.Mask), uint32(c.Mask>>32)
	load := func(off uint32) {
		if acc != int(off) {
			as.loadAbs(off)
		}
		acc = int(off)
	}
	// eq returns the (true, false) targets of an equality test: as given
	// under ==, swapped under !=.
	eq := func(t, f label) (label, label) {
		if c.Op == OpNe {
			return f, t
		}
		return t, f
	}
	if c.Masked {
		if !narrow && mhi != 0 {
			next := as.newLabel()
			load(hi)
			as.and(mhi)
			acc = -1
			// High words differ: == fails, != holds. Equal: the low words decide.
			differ := fail
			if c.Op == OpNe {
				differ = pass
			}
			as.jump(unix.BPF_JEQ, vhi, next, differ)
			as.place(next)
		}
		if vlo == mlo && mlo != 0 && (vlo&(vlo-1)) == 0 {
			// "& BIT == BIT" tests one bit: a jset, and A stays the low word.
			load(lo)
			t, f := eq(pass, fail)
			as.jump(unix.BPF_JSET, mlo, t, f)
			return acc
		}
		if vlo == 0 {
			// "& M == 0" holds when jset finds no bit of M.
			load(lo)
			t, f := eq(pass, fail)
			as.jump(unix.BPF_JSET, mlo, f, t)
			return acc
		}
		load(lo)
		as.and(mlo)
		t, f := eq(pass, fail)
		as.jump(unix.BPF_JEQ, vlo, t, f)
		return -1
	}
	if !narrow {
		next := as.newLabel()
		load(hi)
		switch c.Op {
		case OpEq:
			as.jump(unix.BPF_JEQ, vhi, next, fail)
		case OpNe:
			as.jump(unix.BPF_JEQ, vhi, next, pass)
		case OpGt, OpGe:
			eqHi := as.newLabel()
			as.jump(unix.BPF_JGT, vhi, pass, eqHi)
			as.place(eqHi)
			as.jump(unix.BPF_JEQ, vhi, next, fail)
		case OpLt, OpLe:
			eqHi := as.newLabel()
			as.jump(unix.BPF_JGT, vhi, fail, eqHi)
			as.place(eqHi)
			as.jump(unix.BPF_JEQ, vhi, next, pass)
		}
		as.place(next)
	}
	load(lo)
	switch c.Op {
	case OpEq:
		as.jump(unix.BPF_JEQ, vlo, pass, fail)
	case OpNe:
		as.jump(unix.BPF_JEQ, vlo, fail, pass)
	case OpGt:
		as.jump(unix.BPF_JGT, vlo, pass, fail)
	case OpGe:
		as.jump(unix.BPF_JGE, vlo, pass, fail)
	case OpLt:
		as.jump(unix.BPF_JGE, vlo, fail, pass)
	case OpLe:
		as.jump(unix.BPF_JGT, vlo, fail, pass)
	}
	return acc
}
