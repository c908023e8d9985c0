//go:build !linux

package chain

import (
	"fmt"
	"os"
	"runtime"
)

// ExecDived reports that dived -J is not supported outside Linux.
func ExecDived(d DivedExec) int {
	fmt.Fprintf(os.Stderr, "dived -J: not supported on %s (needs Linux)\n", runtime.GOOS)
	return 125
}
