//go:build !amd64

package main

// These system calls do not exist here; number -1 makes the kernel answer
// ENOSYS, which is what the probe then reports.
const (
	sysIopl      = ^uintptr(0)
	sysIoperm    = ^uintptr(0)
	sysModifyLDT = ^uintptr(0)
	sysUselib    = ^uintptr(0)
)
