//go:build linux && !amd64

package launch

import (
	"syscall"
	"unsafe"
)

// sharedInit is false here: the sandbox init is a forked copy of the caller
// (no entry trampoline for a child on a stack of its own is written for
// this architecture).
const sharedInit = false

func rawClone3(args *cloneArgs, size uintptr, fn func(unsafe.Pointer), arg unsafe.Pointer) (pid uintptr, errno syscall.Errno) {
	return 0, syscall.ENOSYS
}
