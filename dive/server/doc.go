// Package server is the dive server as a library: it listens on an AF_UNIX
// socket (a path or an abstract "@name"), and for every client starts a
// program through the launcher (internal/launch) with the client's
// descriptors, working directory, umask, environment, argv and terminal, then
// reports the program's end back. `cove serve` and the `dived` personality
// are thin front-ends over it.
//
// # Protocols
//
// Every connection starts as vi/dive protocol 1100 (package proto1100), so
// that the real `dive` client works; a cove client upgrades to cove's native
// protocol (package wire) in its first message. See docs/protocol.md.
//
// # Where things happen
//
// The server never changes its own credentials, root or namespaces per
// connection: each program is a raw-fork child of the server whose steps
// (setns, file writes, chroot, cwd, setsid, fd table, controlling terminal,
// umask, rlimits, securebits, bounding set, groups, ids, capabilities,
// no_new_privs) are [launch.Params] computed here from the server's [Policy]
// and the client's request. Names (users, groups) are resolved in the server
// from the host's databases, before any chroot the client may choose.
//
// # Differences from dived
//
// The bugs of dived listed in docs/serve.md are fixed: received descriptors
// always lose FD_CLOEXEC at their numbers, the terminal never takes a slot of
// the fd table, a stopped program is not reported as an exit, process-group
// signals reach the program's group and never the server, client roots
// cannot inject groups (and force no_new_privs), malformed blocks and
// missing programs are refused with a message, abstract sockets check an
// allowlist.
package server
