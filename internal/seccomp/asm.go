package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// label names a position in a program under construction.
type label int

// insn is one classic BPF instruction whose jump targets are labels.
// Conditional jumps always name both targets (never an implicit fallthrough),
// so the assembler may insert trampolines after them.
type insn struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps
	ja     label // BPF_JMP|BPF_JA
}

// asm assembles a classic BPF program with symbolic forward jumps. Offsets
// that do not fit the 8-bit jt/jf fields are reached through "ja"
// trampolines inserted after the jump.
type asm struct {
	insns []insn
	pos   []int // label -> instruction index; -1 while unplaced
}

func (a *asm) newLabel() label {
	a.pos = append(a.pos, -1)
	return label(len(a.pos) - 1)
}

// place binds l to the next instruction emitted.
func (a *asm) place(l label) { a.pos[l] = len(a.insns) }

func (a *asm) loadAbs(off uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}

func (a *asm) and(k uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: k})
}

func (a *asm) ret(k uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_RET | unix.BPF_K, k: k})
}

// jump emits "if A <op> k goto jt else goto jf"; op is BPF_JEQ, BPF_JGT,
// BPF_JGE or BPF_JSET.
func (a *asm) jump(op uint16, k uint32, jt, jf label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf})
}

func isCondJump(code uint16) bool {
	return code&0x07 == unix.BPF_JMP && code&0xf0 != unix.BPF_JA
}

func isJA(code uint16) bool {
	return code&0x07 == unix.BPF_JMP && code&0xf0 == unix.BPF_JA
}

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

// link resolves labels into offsets, inserting trampolines where needed.
func (a *asm) link() ([]unix.SockFilter, error) {
	for l, p := range a.pos {
		if p < 0 {
			return nil, fmt.Errorf("internal error: label %d never placed", l)
		}
	}
	for {
		far := -1
		for i, in := range a.insns {
			if isCondJump(in.code) && (a.pos[in.jt]-i-1 > 255 || a.pos[in.jf]-i-1 > 255) {
				far = i
				break
			}
		}
		if far < 0 {
			break
		}
		a.trampoline(far)
	}
	if len(a.insns) > maxInsns {
		return nil, fmt.Errorf("filter has %d instructions, more than the kernel's limit of %d", len(a.insns), maxInsns)
	}
	out := make([]unix.SockFilter, len(a.insns))
	for i, in := range a.insns {
		f := unix.SockFilter{Code: in.code, K: in.k}
		switch {
		case isCondJump(in.code):
			jt, jf := a.pos[in.jt]-i-1, a.pos[in.jf]-i-1
			if jt < 0 || jf < 0 {
				return nil, fmt.Errorf("internal error: backward jump at instruction %d", i)
			}
			f.Jt, f.Jf = uint8(jt), uint8(jf)
		case isJA(in.code):
			off := a.pos[in.ja] - i - 1
			if off < 0 {
				return nil, fmt.Errorf("internal error: backward jump at instruction %d", i)
			}
			f.K = uint32(off)
		}
		out[i] = f
	}
	return out, nil
}

// trampoline makes the far targets of the conditional jump at index i reach
// their labels through "ja" instructions inserted right after it.
func (a *asm) trampoline(i int) {
	in := &a.insns[i]
	var add []insn
	var newLabels []label
	retarget := func(t *label) {
		if a.pos[*t]-i-1 <= 255 {
			return
		}
		add = append(add, insn{code: unix.BPF_JMP | unix.BPF_JA, ja: *t})
		a.pos = append(a.pos, -1)
		nl := label(len(a.pos) - 1)
		newLabels = append(newLabels, nl)
		*t = nl
	}
	oldJT := in.jt
	retarget(&in.jt)
	if in.jf == oldJT && in.jt != oldJT {
		in.jf = in.jt // both branches went to the same far label
	} else {
		retarget(&in.jf)
	}
	for l, p := range a.pos {
		if p > i {
			a.pos[l] = p + len(add)
		}
	}
	for k, nl := range newLabels {
		a.pos[nl] = i + 1 + k
	}
	a.insns = append(a.insns[:i+1], append(add, a.insns[i+1:]...)...)
}
