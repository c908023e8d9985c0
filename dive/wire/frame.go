package wire

import (
	"encoding/binary"
	"fmt"
)

// Type is a frame's message type.
type Type uint16

// Message types. Zero is never valid, so an all-zero header is rejected.
const (
	TypeHello   Type = 1 // both directions, stream 0
	TypeRequest Type = 2 // client → server
	TypeStarted Type = 3 // server → client
	TypeWinSize Type = 4 // client → server
	TypeSignal  Type = 5 // client → server
	TypeExit    Type = 6 // server → client
	TypeError   Type = 7 // server → client
)

func (t Type) known() bool { return t >= TypeHello && t <= TypeError }

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeRequest:
		return "request"
	case TypeStarted:
		return "started"
	case TypeWinSize:
		return "winsize"
	case TypeSignal:
		return "signal"
	case TypeExit:
		return "exit"
	case TypeError:
		return "error"
	}
	return fmt.Sprintf("type(%d)", uint16(t))
}

// Header is a decoded frame header:
//
//	offset 0  u32 payload length
//	offset 4  u16 type
//	offset 6  u16 number of descriptors attached (SCM_RIGHTS)
//	offset 8  u32 stream id (0: the connection; otherwise chosen by the client per request)
type Header struct {
	Length uint32
	Type   Type
	NFDs   uint16
	Stream uint32
}

// ParseHeader decodes and checks a frame header against lim, so that a
// reader can refuse an oversized or unknown frame before reading its payload.
func ParseHeader(b []byte, lim Limits) (Header, error) {
	lim = lim.withDefaults()
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("frame header: %d of %d bytes: %w", len(b), HeaderSize, ErrShort)
	}
	h := Header{
		Length: binary.LittleEndian.Uint32(b[0:]),
		Type:   Type(binary.LittleEndian.Uint16(b[4:])),
		NFDs:   binary.LittleEndian.Uint16(b[6:]),
		Stream: binary.LittleEndian.Uint32(b[8:]),
	}
	switch {
	case !h.Type.known():
		return h, fmt.Errorf("frame header: %w: %d", ErrUnknownType, uint16(h.Type))
	case uint64(h.Length) > uint64(lim.FrameBytes):
		return h, fmt.Errorf("frame header: %s payload of %d bytes (limit %d): %w", h.Type, h.Length, lim.FrameBytes, ErrFrameTooLarge)
	case int(h.NFDs) > lim.FDs:
		return h, fmt.Errorf("frame header: %s with %d descriptors (limit %d): %w", h.Type, h.NFDs, lim.FDs, ErrTooMany)
	}
	return h, nil
}

// AppendHeader appends the encoding of h.
func AppendHeader(b []byte, h Header) []byte {
	b = binary.LittleEndian.AppendUint32(b, h.Length)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Type))
	b = binary.LittleEndian.AppendUint16(b, h.NFDs)
	return binary.LittleEndian.AppendUint32(b, h.Stream)
}

// Frame is one message on the wire: its type, stream, payload bytes, and the
// descriptors attached to it, in order.
type Frame struct {
	Type    Type
	Stream  uint32
	Payload []byte
	FDs     []int
}

// AppendFrame appends f's header and payload to b; f.FDs travel beside the
// bytes (see Conn).
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	if !f.Type.known() {
		return b, fmt.Errorf("append frame: %w: %d", ErrUnknownType, uint16(f.Type))
	}
	if len(f.Payload) > MaxFrameBytes {
		return b, fmt.Errorf("append frame: %s payload of %d bytes: %w", f.Type, len(f.Payload), ErrFrameTooLarge)
	}
	if len(f.FDs) > MaxFrameFDs {
		return b, fmt.Errorf("append frame: %s with %d descriptors: %w", f.Type, len(f.FDs), ErrTooMany)
	}
	b = AppendHeader(b, Header{Length: uint32(len(f.Payload)), Type: f.Type, NFDs: uint16(len(f.FDs)), Stream: f.Stream})
	return append(b, f.Payload...), nil
}

// ParseFrame decodes the frame at the start of b, given the descriptors
// that arrived with it, and returns the number of bytes it used. The
// descriptor count must match the header. The payload aliases b.
func ParseFrame(b []byte, fds []int, lim Limits) (Frame, int, error) {
	h, err := ParseHeader(b, lim)
	if err != nil {
		return Frame{}, 0, err
	}
	end := HeaderSize + int(h.Length)
	if len(b) < end {
		return Frame{}, 0, fmt.Errorf("%s frame: %d of %d payload bytes: %w", h.Type, len(b)-HeaderSize, h.Length, ErrShort)
	}
	if len(fds) != int(h.NFDs) {
		return Frame{}, 0, fmt.Errorf("%s frame: header declares %d descriptors, %d arrived: %w", h.Type, h.NFDs, len(fds), ErrFDCount)
	}
	return Frame{Type: h.Type, Stream: h.Stream, Payload: b[HeaderSize:end:end], FDs: fds}, end, nil
}
