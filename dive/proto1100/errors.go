package proto1100

import "errors"

// Sentinel errors. Decoders and encoders wrap them with the message and field
// they concern; branch on them with errors.Is.
var (
	// ErrLayout: the Layout is not one of the defined constants.
	ErrLayout = errors.New("proto1100: invalid layout")
	// ErrVersion: the server greeted with a version other than 1100. The real
	// dive exits 3 ("Incompatible versions of dive and dived") on it.
	ErrVersion = errors.New("proto1100: incompatible protocol version")
	// ErrBadValue: an integer outside the values the real tools send.
	ErrBadValue = errors.New("proto1100: value out of range")
	// ErrBadMarker: a descriptor slot holds a byte other than 'F' or 'X'.
	ErrBadMarker = errors.New("proto1100: bad descriptor marker")
	// ErrMissingFD: an 'F' marker arrived without a descriptor.
	ErrMissingFD = errors.New("proto1100: marker without descriptor")
	// ErrUnexpectedFD: descriptors arrived on bytes that are not an 'F'
	// marker, or more than one on a marker. They have been released.
	ErrUnexpectedFD = errors.New("proto1100: descriptor on a non-marker byte")
	// ErrCtrunc: the kernel truncated the control message (MSG_CTRUNC), so
	// descriptors were lost.
	ErrCtrunc = errors.New("proto1100: control message truncated (MSG_CTRUNC)")
	// ErrFDNumber: an fd-list entry names a descriptor number outside
	// 0..MaxFDNumber-1; protocol 1100 cannot carry descriptors ≥ 1024.
	ErrFDNumber = errors.New("proto1100: descriptor number out of range")
	// ErrDuplicateFD: two fd-list entries name the same descriptor number.
	ErrDuplicateFD = errors.New("proto1100: descriptor number sent twice")
	// ErrTooMany: a count or size exceeds the decoder's Limits.
	ErrTooMany = errors.New("proto1100: limit exceeded")
	// ErrMalformedArgv: the argv block is not exactly argc NUL-terminated
	// strings (dived bug 10 leaves stray pointers in that case).
	ErrMalformedArgv = errors.New("proto1100: malformed argv block")
	// ErrMalformedEnv: the environment block is not exactly envc
	// NUL-terminated strings.
	ErrMalformedEnv = errors.New("proto1100: malformed environment block")
	// ErrNUL: a string handed to the encoder contains a NUL byte and cannot
	// travel in a NUL-separated block.
	ErrNUL = errors.New("proto1100: string contains NUL")
	// ErrBadSiginfo: a signal datagram is not exactly 128 bytes.
	ErrBadSiginfo = errors.New("proto1100: signalfd_siginfo is not 128 bytes")
)
