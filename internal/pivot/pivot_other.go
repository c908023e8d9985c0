//go:build !linux

package pivot

// Root reports ErrUnsupported outside Linux.
func Root(newRoot, putOld string) error {
	return &Error{Op: "pivot_root", Path: newRoot, Err: ErrUnsupported}
}

// Detach reports ErrUnsupported outside Linux.
func Detach(newRoot string) error {
	return &Error{Op: "pivot_root", Path: newRoot, Err: ErrUnsupported}
}
