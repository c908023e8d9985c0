#include "textflag.h"

// func rawClone3(args *cloneArgs, size uintptr, fn func(unsafe.Pointer), arg unsafe.Pointer) (pid uintptr, errno syscall.Errno)
//
// clone3(args, size). In the parent it returns the child's pid or the errno.
// The child starts on the stack named in args and calls fn(arg) there with
// the register ABI; fn must not return (if it does, the child exits 127).
// The child gets no g (R14 = 0): code that would consult the Go runtime
// (a stack check, a write barrier, a panic) faults instead of touching the
// parent's runtime, whose memory the child may share.
TEXT ·rawClone3(SB),NOSPLIT|NOFRAME,$0-48
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	fn+16(FP), R12
	MOVQ	arg+24(FP), R13
	MOVL	$435, AX // SYS_clone3
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	MOVQ	$-1, pid+32(FP)
	NEGQ	AX
	MOVQ	AX, errno+40(FP)
	RET
ok:
	MOVQ	AX, pid+32(FP)
	MOVQ	$0, errno+40(FP)
	RET

child:
	// R12 and R13 survive the system call; SP is the new stack's top.
	// Leave room above the return address for fn to spill its argument
	// (the caller's part of the register ABI), keeping SP 16-byte aligned.
	SUBQ	$64, SP
	XORQ	BP, BP // the end of the frame-pointer chain
	MOVQ	R13, AX
	MOVQ	R12, DX
	MOVQ	0(DX), R12
	XORQ	R14, R14
	XORPS	X15, X15
	CALL	R12
	MOVL	$127, DI
	MOVL	$231, AX // SYS_exit_group
	SYSCALL
	INT	$3
