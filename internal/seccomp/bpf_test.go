package seccomp

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// seccompData mirrors struct seccomp_data (linux/seccomp.h).
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

// bytes lays d out as the kernel does on a little-endian machine.
func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runBPF interprets a seccomp classic-BPF program on d and returns the
// SECCOMP_RET_* value. It accepts what the kernel's seccomp_check_filter
// accepts (minus instructions the compiler never emits, which are errors),
// and rejects out-of-range jumps and loads, so a program it runs is one the
// kernel would load.
func runBPF(prog []unix.SockFilter, d seccompData) (uint32, error) {
	ret, _, err := runBPFSteps(prog, d)
	return ret, err
}

// runBPFSteps is runBPF that also counts the instructions executed.
func runBPFSteps(prog []unix.SockFilter, d seccompData) (ret uint32, steps int, err error) {
	if len(prog) == 0 || len(prog) > maxInsns {
		return 0, 0, fmt.Errorf("bad program length %d", len(prog))
	}
	data := d.bytes()
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		steps++
		in := prog[pc]
		jump := func(cond bool) error {
			off := int(in.Jf)
			if cond {
				off = int(in.Jt)
			}
			if pc+1+off >= len(prog) {
				return fmt.Errorf("pc %d: jump out of program", pc)
			}
			pc += off
			return nil
		}
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				return 0, steps, fmt.Errorf("pc %d: bad load offset %d", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_LD | unix.BPF_IMM:
			a = in.K
		case unix.BPF_LDX | unix.BPF_IMM:
			x = in.K
		case unix.BPF_LD | unix.BPF_MEM:
			a = mem[in.K%16]
		case unix.BPF_ST:
			mem[in.K%16] = a
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_ALU | unix.BPF_OR | unix.BPF_K:
			a |= in.K
		case unix.BPF_MISC | unix.BPF_TAX:
			x = a
		case unix.BPF_MISC | unix.BPF_TXA:
			a = x
		case unix.BPF_JMP | unix.BPF_JA:
			if pc+1+int(in.K) >= len(prog) {
				return 0, steps, fmt.Errorf("pc %d: ja out of program", pc)
			}
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			err = jump(a == in.K)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			err = jump(a > in.K)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			err = jump(a >= in.K)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			err = jump(a&in.K != 0)
		case unix.BPF_RET | unix.BPF_K:
			return in.K, steps, nil
		case unix.BPF_RET | unix.BPF_A:
			return a, steps, nil
		default:
			return 0, steps, fmt.Errorf("pc %d: unsupported instruction %#x", pc, in.Code)
		}
		if err != nil {
			return 0, steps, err
		}
	}
	return 0, steps, fmt.Errorf("program fell off the end")
}

// verdict decodes a SECCOMP_RET_* value into an Action.
func verdict(ret uint32) Action {
	switch ret & 0xffff0000 {
	case unix.SECCOMP_RET_ALLOW:
		return Allow
	case unix.SECCOMP_RET_ERRNO:
		return Action{Kind: ActErrno, Errno: uint16(ret)}
	case unix.SECCOMP_RET_KILL_PROCESS:
		return Action{Kind: ActKillProcess}
	case unix.SECCOMP_RET_KILL_THREAD:
		return Action{Kind: ActKillThread}
	case unix.SECCOMP_RET_TRAP:
		return Action{Kind: ActTrap}
	case unix.SECCOMP_RET_LOG:
		return Action{Kind: ActLog}
	}
	return Action{Kind: 255}
}

// disasm renders a program for failure messages.
func disasm(prog []unix.SockFilter) string {
	s := ""
	for i, in := range prog {
		s += fmt.Sprintf("%4d: code=%#04x jt=%d jf=%d k=%#x\n", i, in.Code, in.Jt, in.Jf, in.K)
	}
	return s
}

func goarch() string { return runtime.GOARCH }
