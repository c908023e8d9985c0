//go:build !linux

package landlock

func unsupported() error {
	return &NotSupportedError{Reason: "Landlock is a Linux feature", MinKernel: "5.13"}
}

// ABI is only supported on Linux.
func ABI() (int, error) { return 0, unsupported() }

// Ruleset is a prepared ruleset; only Linux has them.
type Ruleset struct {
	FD                    int
	ABI                   int
	HandledFS, HandledNet uint64
	Note                  string
}

// Close does nothing off Linux.
func (r *Ruleset) Close() error { return nil }

// Prepare is only supported on Linux.
func Prepare(rules Rules) (*Ruleset, error) { return nil, unsupported() }

// RestrictSelf is only supported on Linux.
func RestrictSelf(rs *Ruleset) error { return unsupported() }
