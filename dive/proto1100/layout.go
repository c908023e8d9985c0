package proto1100

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Layout is the byte order and C type sizes that a dive/dived pair was built
// with. The zero Layout is invalid.
type Layout uint8

// The layouts Linux runs on. C int, pid_t and mode_t are 4 bytes in all of
// them; only the size of long and the byte order differ.
const (
	// LayoutLP64LE: 8-byte long, little-endian (amd64, arm64, riscv64, ppc64le, loong64).
	LayoutLP64LE Layout = iota + 1
	// LayoutLP64BE: 8-byte long, big-endian (s390x, ppc64).
	LayoutLP64BE
	// LayoutILP32LE: 4-byte long, little-endian (386, arm, mipsle).
	LayoutILP32LE
	// LayoutILP32BE: 4-byte long, big-endian (mips).
	LayoutILP32BE
)

// NativeLayout returns the layout of the running program, which is the layout
// of C programs built for the same machine: Go's int has the size of C long on
// every Linux port Go supports.
func NativeLayout() Layout {
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	big := probe[0] == 0
	switch {
	case strconv.IntSize == 64 && !big:
		return LayoutLP64LE
	case strconv.IntSize == 64:
		return LayoutLP64BE
	case !big:
		return LayoutILP32LE
	default:
		return LayoutILP32BE
	}
}

// Valid reports whether l is one of the defined layouts.
func (l Layout) Valid() bool { return l >= LayoutLP64LE && l <= LayoutILP32BE }

// LongSize is sizeof(long) in bytes: 8 or 4.
func (l Layout) LongSize() int {
	if l == LayoutILP32LE || l == LayoutILP32BE {
		return 4
	}
	return 8
}

// BigEndian reports whether integers are sent most significant byte first.
func (l Layout) BigEndian() bool { return l == LayoutLP64BE || l == LayoutILP32BE }

func (l Layout) String() string {
	switch l {
	case LayoutLP64LE:
		return "lp64-le"
	case LayoutLP64BE:
		return "lp64-be"
	case LayoutILP32LE:
		return "ilp32-le"
	case LayoutILP32BE:
		return "ilp32-be"
	}
	return "layout(" + strconv.Itoa(int(l)) + ")"
}

func (l Layout) check() error {
	if !l.Valid() {
		return fmt.Errorf("%w: %s", ErrLayout, l)
	}
	return nil
}

// order is the byte order of l. Precondition: l.Valid().
func (l Layout) order() interface {
	binary.ByteOrder
	binary.AppendByteOrder
} {
	if l.BigEndian() {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// IntSize is sizeof(int) == sizeof(pid_t) == sizeof(mode_t) on Linux.
const IntSize = 4

func (l Layout) appendInt(b []byte, v int32) []byte {
	return l.order().AppendUint32(b, uint32(v))
}

func (l Layout) int(b []byte) int32 { return int32(l.order().Uint32(b)) }

func (l Layout) appendLong(b []byte, v int64) []byte {
	if l.LongSize() == 4 {
		return l.order().AppendUint32(b, uint32(int32(v)))
	}
	return l.order().AppendUint64(b, uint64(v))
}

func (l Layout) long(b []byte) int64 {
	if l.LongSize() == 4 {
		return int64(int32(l.order().Uint32(b)))
	}
	return int64(l.order().Uint64(b))
}
