package wire

// Hard protocol bounds, independent of Limits.
const (
	// HeaderSize is the length of a frame header.
	HeaderSize = 12
	// MaxFrameBytes is the largest payload any decoder accepts.
	MaxFrameBytes = 64 << 20
	// MaxFrameFDs is the most descriptors a frame can declare (u16).
	MaxFrameFDs = 1<<16 - 1
)

// Limits bounds what a decoder accepts. A zero field means the default.
type Limits struct {
	FrameBytes int    // payload bytes; default 24 MiB, at most MaxFrameBytes
	FDs        int    // descriptors per frame; default 4096
	MaxTarget  uint32 // highest target descriptor number; default 1<<20 - 1 (Linux nr_open)
	Args       int    // argv entries; default 1,000,000
	ArgBytes   int    // argv bytes (sum of lengths); default 10,000,000
	Env        int    // environment entries; default 1,000,000
	EnvBytes   int    // environment bytes; default 10,000,000
}

// DefaultLimits returns the defaults.
func DefaultLimits() Limits {
	return Limits{FrameBytes: 24 << 20, FDs: 4096, MaxTarget: 1<<20 - 1,
		Args: 1000000, ArgBytes: 10000000, Env: 1000000, EnvBytes: 10000000}
}

func (lim Limits) withDefaults() Limits {
	d := DefaultLimits()
	if lim.FrameBytes <= 0 || lim.FrameBytes > MaxFrameBytes {
		lim.FrameBytes = d.FrameBytes
	}
	if lim.FDs <= 0 || lim.FDs > MaxFrameFDs {
		lim.FDs = d.FDs
	}
	if lim.MaxTarget == 0 {
		lim.MaxTarget = d.MaxTarget
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
