package chain

// personalityNames lists every argv[0] under which cove behaves as an older chain-loader, grouped by
// the tool family whose syntax, messages and exit codes it copies.
var personalityNames = [...]string{
	// daemontools 0.76 (and runit's emulation of it under the same names)
	"setuidgid", "envuidgid", "envdir", "softlimit", "setlock", "pgrphack",
	// runit
	"chpst",
	// s6 and s6-linux-utils
	"s6-setuidgid", "s6-envuidgid", "s6-applyuidgid", "s6-softlimit", "s6-envdir", "s6-setlock", "s6-chroot",
	// nosh
	"setuidgid-fromenv",
}

// Names lists every personality name, in a stable order, for `cove install-links`.
func Names() []string {
	return append([]string(nil), personalityNames[:]...)
}
