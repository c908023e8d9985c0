#include "textflag.h"

// The kernel calls sigHandler with the C ABI (DI = the signal number) on
// the thread's alternate signal stack (SA_ONSTACK: the Go runtime gives
// every thread one), with every signal blocked. It touches no Go state:
// the byte goes below SP, where nothing else can write while it runs, and
// the registers it clobbers are restored by rt_sigreturn.
TEXT ·sigHandler(SB),NOSPLIT|NOFRAME,$0-0
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
