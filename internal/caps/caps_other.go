//go:build !linux

package caps

import "errors"

// ErrUnsupported is returned by probes on systems without Linux
// capabilities.
var ErrUnsupported = errors.New("capabilities are only supported on Linux")

// Last is only supported on Linux.
func Last() (Cap, error) { return 0, ErrUnsupported }
