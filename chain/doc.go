// Package chain implements cove's chain-loading front-ends: `cove exec`, which changes any number
// of process attributes and then execs a command in place, and the drop-in personalities that
// make cove behave as the daemontools, runit, s6 and nosh chain-loaders it replaces.
//
// # Personalities
//
// The main binary dispatches on the base name of argv[0]:
//
//	if fn := chain.Lookup(filepath.Base(os.Args[0])); fn != nil {
//		os.Exit(fn(os.Args))
//	}
//
// Each personality keeps its original's argument syntax, environment variables, message meaning
// and exit codes (daemontools/runit: 100 usage, 111 failure; s6: 100, 111, 1 for unknown
// accounts and busy locks, 126/127 for exec failures; nosh: 1 and 111). Names() lists them for
// `cove install-links`.
//
// # cove exec
//
// ExecMain resolves everything first (users and groups in this system's /etc/passwd and
// /etc/group, before any chroot or namespace change; capability names; namespace files), then
// applies the steps in a fixed, documented order and execs. Failures exit 125 with a message
// naming the step, 126 when the command cannot be executed, 127 when it is not found.
//
// IMPORTANT: capabilities, securebits, no_new_privs, nice and namespaces are per-thread in
// Linux. Every entry point locks its goroutine to its OS thread for good, makes those changes
// there and execs from that thread; call them from the main goroutine. uid, gid and groups are
// changed with Go's all-threads syscall.Set*id. Signals ignored by the caller other than SIGHUP
// and SIGINT cannot be passed on (the Go runtime resets them); see docs/chain.md.
//
// On systems other than Linux the package compiles and every entry point reports that it is
// unsupported.
package chain
