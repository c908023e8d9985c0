package sigcatch

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeFd is the pipe's write end, read by sigHandler. Written once, by
// the first Catch, before any handler that reads it is installed.
//
//lint:ignore U1000 read by sigHandler (assembly)
var writeFd uintptr

// sigHandler is the signal handler (sigcatch_linux_amd64.s): it writes the
// signal number as one byte to writeFd. Called by the kernel only.
//
//lint:ignore U1000 installed through handlerAddrs (assembly)
func sigHandler()

// sigReturn is the handler's restorer: rt_sigreturn.
//
//lint:ignore U1000 installed through handlerAddrs (assembly)
func sigReturn()

// handlerAddrs returns the entry points of sigHandler and sigReturn.
func handlerAddrs() (handler, restorer uintptr)

// kernelSigaction is struct sigaction as rt_sigaction takes it on amd64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	saOnstack  = 0x08000000
	saRestart  = 0x10000000
	saRestorer = 0x04000000
	sigIgn     = 1
)

type impl struct {
	r int // the pipe's read end
}

func (c *Catcher) catch(sigs []syscall.Signal, ignored bool) error {
	var p [2]int
	// The write end never blocks a handler: a full pipe (thousands of
	// unread signals) drops the new one.
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("sigcatch: pipe: %w", err)
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return fmt.Errorf("sigcatch: pipe: %w", err)
	}
	c.r = p[0]
	writeFd = uintptr(p[1])
	h, r := handlerAddrs()
	act := kernelSigaction{
		handler:  h,
		flags:    saOnstack | saRestart | saRestorer,
		restorer: r,
		mask:     ^uint64(0),
	}
	for _, s := range sigs {
		var old kernelSigaction
		if err := rtSigaction(s, nil, &old); err != nil {
			return fmt.Errorf("sigcatch: read the disposition of %v: %w", s, err)
		}
		if old.handler == sigIgn && !ignored {
			continue
		}
		if err := rtSigaction(s, &act, nil); err != nil {
			return fmt.Errorf("sigcatch: catch %v: %w", s, err)
		}
		c.sigs = append(c.sigs, s)
	}
	return nil
}

func rtSigaction(s syscall.Signal, act, old *kernelSigaction) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(s),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (c *Catcher) next() (syscall.Signal, error) {
	var b [1]byte
	for {
		n, err := unix.Read(c.r, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("sigcatch: read: %w", err)
		}
		if n == 1 {
			return syscall.Signal(b[0]), nil
		}
		return 0, fmt.Errorf("sigcatch: read: %w", unix.EPIPE)
	}
}
