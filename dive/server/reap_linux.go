package server

import (
	"os"
	"os/signal"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reaper waits for every child of the process (Config.ReapChildren): the
// programs the server started and any orphan the kernel reparents to it,
// which happens when the server is PID 1 of a PID namespace (--unshare pid)
// or a child subreaper. Orphans are reaped and forgotten, so no zombie stays.
//
// It runs on SIGCHLD. For each exited child it first peeks with
// waitid(WNOWAIT), takes the tracked child's lock, and only then reaps: a
// signal the server relays can never reach a pid the kernel already reused.
// A child that exits before it is tracked (start returns after execve, the
// program may be gone by then) is kept in early until track claims it.
type reaper struct {
	sig chan os.Signal

	mu      sync.Mutex
	waiting map[int]*child
	early   map[int]earlyExit
}

type earlyExit struct {
	ws unix.WaitStatus
	at time.Time
}

// earlyTTL bounds how long the status of an untracked child is kept: long
// enough for any start to track its child (microseconds after execve), short
// enough that statuses of orphans do not pile up.
const earlyTTL = 30 * time.Second

// newReaper starts reaping. Precondition: nothing else in the process waits
// for children, and there is one reaper per process.
func newReaper() *reaper {
	r := &reaper{sig: make(chan os.Signal, 1), waiting: map[int]*child{}, early: map[int]earlyExit{}}
	signal.Notify(r.sig, unix.SIGCHLD)
	go func() {
		for range r.sig {
			r.reap()
		}
	}()
	r.reap() // children that ended before Notify
	return r
}

// stop ends reaping (children exiting later stay zombies until a wait).
func (r *reaper) stop() {
	signal.Stop(r.sig)
	close(r.sig)
}

// track hands c to the reaper; c.done closes when it has been reaped.
func (r *reaper) track(c *child) {
	r.mu.Lock()
	if e, ok := r.early[c.pid]; ok {
		delete(r.early, c.pid)
		r.mu.Unlock()
		c.mu.Lock()
		c.exited = true
		c.mu.Unlock()
		c.ws = e.ws
		close(c.done)
		return
	}
	r.waiting[c.pid] = c
	r.mu.Unlock()
}

// reap collects every child that has exited. Stops are not exits (no
// WUNTRACED): dived bug 5.
func (r *reaper) reap() {
	for {
		var si unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		pid := int(siginfoPid(&si))
		if err != nil || pid <= 0 {
			return
		}
		// One hold of r.mu from the lookup to the record of an untracked
		// status: a track in between would miss both.
		r.mu.Lock()
		c := r.waiting[pid]
		delete(r.waiting, pid)
		if c != nil {
			c.mu.Lock() // no signal in flight while the pid is freed
		}
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		for err == unix.EINTR {
			got, err = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
		reaped := err == nil && got == pid // else the launcher reaped it (a failed start)
		if c == nil && reaped {
			now := time.Now()
			for p, e := range r.early {
				if now.Sub(e.at) > earlyTTL {
					delete(r.early, p)
				}
			}
			r.early[pid] = earlyExit{ws: ws, at: now}
		}
		r.mu.Unlock()
		if c != nil {
			c.exited = true
			c.mu.Unlock()
			if reaped {
				c.ws = ws
			}
			close(c.done)
		}
	}
}

// siginfoPid is si_pid of a SIGCHLD siginfo: the first int after the
// three ints and the padding of the header (offset 16 on every Linux ABI
// with 64-bit alignment, 12 on 32-bit ones).
func siginfoPid(si *unix.Siginfo) int32 {
	const ptr = unsafe.Sizeof(uintptr(0))
	const off = (12 + ptr - 1) &^ (ptr - 1)
	return *(*int32)(unsafe.Add(unsafe.Pointer(si), off))
}
