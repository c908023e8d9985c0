package main

import "golang.org/x/sys/unix"

// System calls that exist only on some architectures.
const (
	sysIopl      = unix.SYS_IOPL
	sysIoperm    = unix.SYS_IOPERM
	sysModifyLDT = unix.SYS_MODIFY_LDT
	sysUselib    = unix.SYS_USELIB
)
