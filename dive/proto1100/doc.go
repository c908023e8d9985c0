// Package proto1100 encodes and decodes protocol 1100, the wire protocol of
// vi/dive v1.9.0: the one the real `dive` client and `dived` server speak over
// an AF_UNIX SOCK_STREAM socket.
//
// # The conversation
//
// The server speaks first. Every step is a separate message; the client only
// waits for the server at the marked points, so a decoder must be driven in
// this order (see docs/protocol.md for every byte):
//
//	S→C  Hello          C long 1100, pid_t helper pid
//	C→S  Intro          terminal fd marker, int wait-requested
//	S→C  WaitReply      int wait-enabled                        (client waits)
//	C→S  Request        fd list, mode_t umask, root and cwd fd markers, argv, env
//	S→C  Started        pid_t program pid, int signal mode      (only if wait enabled)
//	C→S  SignalChannel  fd marker: one end of a SOCK_DGRAM pair (only if wait enabled)
//	S→C  Exit           int status                              (only if wait enabled)
//
// Over the signal channel the client then sends each signal it catches as a
// raw 128-byte struct signalfd_siginfo datagram ([Siginfo]).
//
// # Bytes and descriptors
//
// A descriptor travels as one data byte 'F' ([MarkerFD]) sent by its own
// sendmsg with exactly one SCM_RIGHTS descriptor; a slot with no descriptor is
// the plain byte 'X' ([MarkerNone]). The codec keeps bytes and descriptors
// apart: a [Decoder] reads from a [Source] and an [Encoder] writes to a
// [Sink]. [Buffer] is the in-memory form (bytes plus the offsets of the 'F'
// bytes that carried descriptors), used for golden transcripts and fuzzing;
// on Linux, [Socket] is the form over a *net.UnixConn.
//
// # Native layout
//
// Integers have the byte order and size of the C types on the machine dive
// and dived were built for: int, pid_t and mode_t are 4 bytes on every Linux
// target, but the version is a C long (8 bytes on LP64, 4 on ILP32). A
// [Layout] names the combination; [NativeLayout] is the running machine's.
// Peers built for different layouts cannot talk to each other; that is a
// property of protocol 1100, which the codec models rather than hides.
//
// # Strictness
//
// The decoders accept exactly what the encoders produce: every value that the
// real tools never send (a wait flag other than 0 or 1, an fd number outside
// 0..1023, a malformed argv or environment block, a descriptor on a byte that
// is not a marker) is an error wrapping one of the exported sentinel errors.
// Sizes are bounded by [Limits]. Decoded messages therefore re-encode to the
// same bytes.
package proto1100
