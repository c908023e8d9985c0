package proto1100

// MaxFDNumber bounds the descriptor numbers protocol 1100 can carry: the real
// dive sends only fds below it (silently skipping the rest) and dived rejects
// anything else (exit 7). Encoders refuse fds ≥ MaxFDNumber with ErrFDNumber
// instead of dropping them.
const MaxFDNumber = 1024

// Limits bounds what a Decoder accepts. A zero field means the default, which
// is dived's own limit.
type Limits struct {
	FDs      int // fd-list entries; default 1008 (dived: MAXFD-16)
	Args     int // argv entries; default 1,000,000
	ArgBytes int // argv block bytes; default 10,000,000
	Env      int // environment entries; default 1,000,000
	EnvBytes int // environment block bytes; default 10,000,000
}

// DefaultLimits returns dived's limits.
func DefaultLimits() Limits {
	return Limits{FDs: MaxFDNumber - 16, Args: 1000000, ArgBytes: 10000000, Env: 1000000, EnvBytes: 10000000}
}

func (lim Limits) withDefaults() Limits {
	d := DefaultLimits()
	if lim.FDs <= 0 {
		lim.FDs = d.FDs
	}
	if lim.Args <= 0 {
		lim.Args = d.Args
	}
	if lim.ArgBytes <= 0 {
		lim.ArgBytes = d.ArgBytes
	}
	if lim.Env <= 0 {
		lim.Env = d.Env
	}
	if lim.EnvBytes <= 0 {
		lim.EnvBytes = d.EnvBytes
	}
	return lim
}
