//go:build !linux

package seal

import "os"

// LookPath reports ErrUnsupported outside Linux.
func LookPath(name, path string) (string, error) { return "", &Error{"find", name, ErrUnsupported} }

// Open reports ErrUnsupported outside Linux.
func Open(path string) (*os.File, error) { return nil, &Error{"open", path, ErrUnsupported} }

// Copy reports ErrUnsupported outside Linux.
func Copy(src *os.File, name string) (*os.File, error) {
	return nil, &Error{"memfd_create", name, ErrUnsupported}
}

// SealsOf reports ErrUnsupported outside Linux.
func SealsOf(f *os.File) (int, error) { return 0, ErrUnsupported }

// Exec reports ErrUnsupported outside Linux.
func Exec(f *os.File, argv, env []string) error { return &Error{"exec", f.Name(), ErrUnsupported} }

// Run reports ErrUnsupported outside Linux.
func Run(argv, env []string) error {
	name := ""
	if len(argv) > 0 {
		name = argv[0]
	}
	return &Error{"find", name, ErrUnsupported}
}
