//go:build !linux

package chain

import (
	"fmt"
	"os"
	"runtime"
	"slices"
)

// Lookup returns, on systems other than Linux, an entry point that reports the personality as
// unsupported (exit 111, the chain-loaders' "temporary failure"), or nil for unknown names.
func Lookup(name string) func(argv []string) int {
	if !slices.Contains(Names(), name) {
		return nil
	}
	return func(argv []string) int {
		fmt.Fprintf(os.Stderr, "%s: fatal: not supported on %s (cove's chain-loaders need Linux)\n", name, runtime.GOOS)
		return 111
	}
}

// ExecMain reports that cove exec is not supported outside Linux.
func ExecMain(args []string) int {
	fmt.Fprintf(os.Stderr, "cove exec: not supported on %s (needs Linux)\n", runtime.GOOS)
	return 125
}
