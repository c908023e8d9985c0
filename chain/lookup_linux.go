package chain

// Lookup returns the entry point of the personality named name (the base name of argv[0], e.g.
// "setuidgid", "chpst", "s6-envdir"), or nil when name is not a chain-loader personality. The
// returned func receives the full argv (argv[0] included) and returns the process exit status; it
// returns only on failure, because on success it execs the next program in place.
//
// Preconditions: call it from the main goroutine before starting other goroutines that change
// per-thread state; the entry point locks the goroutine to its OS thread for good, sets per-thread
// attributes there and execs from that thread.
func Lookup(name string) func(argv []string) int {
	switch name {
	case "setuidgid":
		return setuidgidMain
	case "envuidgid":
		return envuidgidMain
	case "envdir":
		return envdirMain
	case "softlimit":
		return softlimitMain
	case "setlock":
		return setlockMain
	case "pgrphack":
		return pgrphackMain
	case "chpst":
		return chpstMain
	case "s6-setuidgid":
		return s6SetuidgidMain
	case "s6-envuidgid":
		return s6EnvuidgidMain
	case "s6-applyuidgid":
		return s6ApplyuidgidMain
	case "s6-softlimit":
		return s6SoftlimitMain
	case "s6-envdir":
		return s6EnvdirMain
	case "s6-setlock":
		return s6SetlockMain
	case "s6-chroot":
		return s6ChrootMain
	case "setuidgid-fromenv":
		return setuidgidFromenvMain
	}
	return nil
}
