package launch

import (
	"syscall"
	"unsafe"
)

// sharedInit tells whether this architecture can run the sandbox init in
// the caller's address space (see rawClone3).
const sharedInit = true

// rawClone3 is implemented in clone_linux_amd64.s.
func rawClone3(args *cloneArgs, size uintptr, fn func(unsafe.Pointer), arg unsafe.Pointer) (pid uintptr, errno syscall.Errno)
