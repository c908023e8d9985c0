package wire

import "errors"

// Sentinel errors; decoders wrap them with the message and field concerned.
var (
	// ErrShort: fewer bytes than the structure needs; Detect returns it when
	// it needs more input.
	ErrShort = errors.New("wire: truncated")
	// ErrTrailing: bytes left after the last field of a payload.
	ErrTrailing = errors.New("wire: trailing bytes")
	// ErrUnknownType: a frame type this version does not define.
	ErrUnknownType = errors.New("wire: unknown message type")
	// ErrFrameTooLarge: a payload longer than the limit.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrTooMany: a count (descriptors, argv, env) above the limit.
	ErrTooMany = errors.New("wire: limit exceeded")
	// ErrFDCount: the descriptors attached to a frame do not match its
	// header or its payload.
	ErrFDCount = errors.New("wire: descriptor count mismatch")
	// ErrCtrunc: the kernel truncated a control message (MSG_CTRUNC).
	ErrCtrunc = errors.New("wire: control message truncated (MSG_CTRUNC)")
	// ErrReserved: a reserved field or flag bit is not zero.
	ErrReserved = errors.New("wire: reserved bits set")
	// ErrBadValue: a field outside its defined values.
	ErrBadValue = errors.New("wire: value out of range")
	// ErrStream: a message on the wrong stream (Hello on a request stream or
	// a request message on stream 0).
	ErrStream = errors.New("wire: wrong stream id")
	// ErrVersion: no protocol version both sides speak.
	ErrVersion = errors.New("wire: no common protocol version")
	// ErrUnknownProtocol: the first bytes are neither a dive 1100 client nor
	// a cove native client (or server).
	ErrUnknownProtocol = errors.New("wire: unknown protocol")
)
