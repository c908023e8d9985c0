// Package client is the dive client as a library: it connects to a
// `cove serve` (or a real dived) socket and starts a program there with
// descriptors, working directory, umask, environment, argv and terminal
// that the caller chooses, then reports its end.
//
// Two entry points:
//
//   - [Dial] opens a held connection in cove's native protocol; one
//     connection carries many programs ([Conn.Start]), which is how a Go
//     program starts thousands of programs per second.
//   - [Run1100] speaks protocol 1100 exactly as vi/dive's client does; it is
//     what the `dive` personality uses, and [Dial] falls back to it (through
//     [ErrDive1100]) when the server is a real dived.
package client
