#include "textflag.h"

// The kernel calls sigHandler with the C ABI (DI = the signal number) on
// the thread's alternate signal stack (SA_ONSTACK: the Go runtime gives
// every thread one), with every signal blocked. It touches no Go state:
// the byte goes below SP, where nothing else can write while it runs, and
// the registers it clobbers are restored by rt_sigreturn. Once SendTo has
// set sendFd (an aligned word: one load sees all of it), the signal goes
// straight to that process instead: pidfd_send_signal(sendFd, sig, NULL, 0).
TEXT ·sigHandler(SB),NOSPLIT|NOFRAME,$0-0
	MOVQ	·sendFd(SB), AX
	CMPQ	AX, $0
	JLT	pipe
	MOVQ	DI, SI // sig
	MOVQ	AX, DI // pidfd
	XORL	DX, DX // info: NULL
	XORL	R10, R10 // flags: 0
	MOVL	$424, AX // SYS_pidfd_send_signal
	SYSCALL
	RET
pipe:
	MOVB	DI, -8(SP)
	LEAQ	-8(SP), SI
	MOVQ	·writeFd(SB), DI
	MOVQ	$1, DX
	MOVL	$1, AX // SYS_write
	SYSCALL
	RET

TEXT ·sigReturn(SB),NOSPLIT|NOFRAME,$0-0
	MOVL	$15, AX // SYS_rt_sigreturn
	SYSCALL
	INT	$3

// func handlerAddrs() (handler, restorer uintptr)
TEXT ·handlerAddrs(SB),NOSPLIT,$0-16
	LEAQ	·sigHandler(SB), AX
	MOVQ	AX, handler+0(FP)
	LEAQ	·sigReturn(SB), AX
	MOVQ	AX, restorer+8(FP)
	RET
