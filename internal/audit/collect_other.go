//go:build !linux

package audit

import "errors"

// Collect is only supported on Linux.
func Collect(pid int) (*Report, error) {
	return nil, errors.New("cove audit reads /proc and is only supported on Linux")
}
