// Package wire is cove's native protocol between `cove dive` (or the Go
// client library) and `cove serve`: versioned, capability-negotiated,
// length-framed, with fixed-width little-endian fields whatever the machine.
//
// # Getting there from protocol 1100
//
// A cove server must also serve the real dive client, which waits for the
// server's 1100 greeting before it sends anything. So every connection starts
// as protocol 1100 (package proto1100): the server sends its greeting, and
// the client's first message decides. A native client sends the terminal
// marker as dive would, but puts [UpgradeOffer] ("cove") in the wait flag;
// [Detect] tells the two apart. A cove server answers the offer with
// [UpgradeAccept] ("COVE") in place of the 4-byte wait reply, and both sides
// switch to frames. A real dived reads the offer as "wait requested" and
// answers 0 or 1, which [DetectReply] recognises, so the same client falls
// back to protocol 1100 on the same connection without a second connect.
//
// # Frames
//
// Every message is one frame: a 12-byte header (payload length, type,
// descriptor count, stream id) and the payload. Descriptors travel as
// SCM_RIGHTS with the frame's first byte, so a reader that reads exactly one
// header and then exactly one payload receives every descriptor of the frame
// and never one of the next frame's. Decoding is strict: unknown types,
// oversized frames, truncated or trailing fields, reserved bits and counts
// that disagree with the attached descriptors are errors wrapping the
// exported sentinels. Everything a decoder accepts re-encodes to the same
// bytes. docs/protocol.md lists every field.
package wire
