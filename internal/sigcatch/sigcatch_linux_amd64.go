package sigcatch

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeFd is the pipe's write end, read by sigHandler. Written once, by
// the first Catch, before any handler that reads it is installed.
//
//lint:ignore U1000 read by sigHandler (assembly)
var writeFd uintptr

// sendFd is a pidfd that sigHandler sends each signal to directly, or -1
// (see SendTo). Written by SendTo, read by sigHandler.
//
//lint:ignore U1000 read by sigHandler (assembly)
var sendFd int64 = -1

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

// sendTo is SendTo: from the store on, the handler signals pidfd itself;
// what the pipe holds from before is sent after, in order.
func (c *Catcher) sendTo(pidfd int) error {
	if pidfd < 0 {
		return fmt.Errorf("sigcatch: SendTo(%d): not a descriptor", pidfd)
	}
	// Probe: signal 0 checks the process and the system call exist.
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		return fmt.Errorf("sigcatch: pidfd_send_signal: %w", err)
	}
	atomic.StoreInt64(&sendFd, int64(pidfd))
	var b [64]byte
	for {
		pfd := []unix.PollFd{{Fd: int32(c.r), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return nil
		}
		k, err := unix.Read(c.r, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || k <= 0 {
			return nil
		}
		for _, s := range b[:k] {
			unix.PidfdSendSignal(pidfd, unix.Signal(s), nil, 0)
		}
	}
}
