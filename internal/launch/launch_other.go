//go:build !linux

package launch

import "errors"

// Start is only implemented on Linux.
func Start(p *Params) (int, error) { return 0, errors.New("launch: only supported on Linux") }
