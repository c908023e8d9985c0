package proto1100

import "fmt"

// SiginfoSize is sizeof(struct signalfd_siginfo).
const SiginfoSize = 128

// Siginfo is struct signalfd_siginfo, as dive forwards it over the signal
// channel. dived reads only Signo; the other fields are kept so that a
// datagram re-encodes to the same bytes. Field widths are fixed by the
// kernel ABI; the byte order is the Layout's.
type Siginfo struct {
	Signo    uint32
	Errno    int32
	Code     int32
	PID      uint32
	UID      uint32
	FD       int32
	TID      uint32
	Band     uint32
	Overrun  uint32
	Trapno   uint32
	Status   int32
	Int      int32
	Ptr      uint64
	Utime    uint64
	Stime    uint64
	Addr     uint64
	AddrLSB  uint16
	Pad2     uint16
	Syscall  int32
	CallAddr uint64
	Arch     uint32
	Pad      [28]byte
}

// AppendSiginfo appends the 128-byte encoding of si.
func (l Layout) AppendSiginfo(b []byte, si Siginfo) ([]byte, error) {
	if err := l.check(); err != nil {
		return b, err
	}
	o := l.order()
	for _, v := range []uint32{si.Signo, uint32(si.Errno), uint32(si.Code), si.PID, si.UID,
		uint32(si.FD), si.TID, si.Band, si.Overrun, si.Trapno, uint32(si.Status), uint32(si.Int)} {
		b = o.AppendUint32(b, v)
	}
	for _, v := range []uint64{si.Ptr, si.Utime, si.Stime, si.Addr} {
		b = o.AppendUint64(b, v)
	}
	b = o.AppendUint16(b, si.AddrLSB)
	b = o.AppendUint16(b, si.Pad2)
	b = o.AppendUint32(b, uint32(si.Syscall))
	b = o.AppendUint64(b, si.CallAddr)
	b = o.AppendUint32(b, si.Arch)
	return append(b, si.Pad[:]...), nil
}

// ParseSiginfo decodes one signal datagram, which must be exactly
// SiginfoSize bytes.
func (l Layout) ParseSiginfo(b []byte) (Siginfo, error) {
	if err := l.check(); err != nil {
		return Siginfo{}, err
	}
	if len(b) != SiginfoSize {
		return Siginfo{}, fmt.Errorf("%w: got %d bytes", ErrBadSiginfo, len(b))
	}
	o := l.order()
	u32 := func(off int) uint32 { return o.Uint32(b[off:]) }
	u64 := func(off int) uint64 { return o.Uint64(b[off:]) }
	si := Siginfo{
		Signo: u32(0), Errno: int32(u32(4)), Code: int32(u32(8)), PID: u32(12), UID: u32(16),
		FD: int32(u32(20)), TID: u32(24), Band: u32(28), Overrun: u32(32), Trapno: u32(36),
		Status: int32(u32(40)), Int: int32(u32(44)),
		Ptr: u64(48), Utime: u64(56), Stime: u64(64), Addr: u64(72),
		AddrLSB: o.Uint16(b[80:]), Pad2: o.Uint16(b[82:]), Syscall: int32(u32(84)),
		CallAddr: u64(88), Arch: u32(96),
	}
	copy(si.Pad[:], b[100:])
	return si, nil
}
