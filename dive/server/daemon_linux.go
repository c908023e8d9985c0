package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/covebox/cove/internal/launch"
	"golang.org/x/sys/unix"
)

// Policy.Daemon (dived -D) runs every program under a daemon(0,0)-style
// helper, as dived's per-connection helper did: the program is not a
// descendant of the server (its waiter's parent exits, so the kernel
// reparents the waiter to init or the nearest subreaper), it runs outside
// the server's session, its working directory is "/" where the server's
// would have been used, and the server's standard descriptors are replaced
// by /dev/null (--no-fds).
//
// The helper is this program re-executed twice through /proc/self/exe:
// stage 1 is the server's child and starts stage 2 in a new session, then
// exits; stage 2 receives the launcher's Params, starts the program with
// them (the same launcher, the same steps), sends its pidfd, waits, and
// sends the wait status. A program that embeds the server and sets Daemon
// must call DaemonHelperMain first thing when os.Args[1:] start with
// DaemonHelperArg (cove serve does).

// DaemonHelperArg is the first argument of the helper stages.
const DaemonHelperArg = "--dive-daemon-helper"

// Helper stages (second argument).
const (
	daemonStage1 = "1"
	daemonStage2 = "2"
)

// helperFD is the helper's end of the socket pair with the server.
const helperFD = 3

// Messages from the helper: a kind byte, then a little-endian payload.
const (
	msgPid    = 'P' // u32 pid, pidfd attached
	msgError  = 'E' // u32 step, u32 index, u32 errno, u32 n, n bytes of detail
	msgStatus = 'S' // u32 wait status
)

// startDaemon starts lp's program under the -D helper (see above).
func (s *Server) startDaemon(lp *launch.Params) (*child, error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, startErr("daemon", fmt.Errorf("socketpair: %w", err))
	}
	defer unix.Close(sp[1])
	null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(sp[0])
		return nil, startErr("daemon", fmt.Errorf("open %s: %w", os.DevNull, err))
	}
	defer unix.Close(null)

	// The helper's descriptor table: /dev/null on 0-2, the socket on 3,
	// then every descriptor lp names, renumbered into it.
	files := []int{null, null, null, sp[1]}
	slot := map[int]int{}
	remap := func(fd int) int {
		if fd < 0 {
			return fd
		}
		if n, ok := slot[fd]; ok {
			return n
		}
		slot[fd] = len(files)
		files = append(files, fd)
		return slot[fd]
	}
	hp := *lp
	if s.cfg.Policy.NoClientFDs {
		hp.Files = []int{0, 1, 2} // the helper's /dev/null, not the server's stdio
	} else {
		hp.Files = make([]int, len(lp.Files))
		for i, fd := range lp.Files {
			hp.Files[i] = remap(fd)
		}
	}
	hp.Setns = make([]launch.Namespace, len(lp.Setns))
	for i, ns := range lp.Setns {
		hp.Setns[i] = launch.Namespace{FD: remap(ns.FD), Type: ns.Type}
	}
	if hp.UseRootFD {
		hp.RootFD = remap(hp.RootFD)
	}
	if hp.UseDirFD {
		hp.DirFD = remap(hp.DirFD)
	}
	hp.LandlockFD = remap(hp.LandlockFD)
	if !hp.UseDirFD && hp.Dir == "" {
		hp.Dir = "/" // daemon(0, 0)
	}
	data, err := json.Marshal(&hp)
	if err != nil {
		unix.Close(sp[0])
		return nil, startErr("daemon", fmt.Errorf("encode parameters: %w", err))
	}

	h1, err := launch.Start(&launch.Params{
		Path: []string{"/proc/self/exe"}, Argv: []string{"cove", "serve", DaemonHelperArg, daemonStage1, strconv.Itoa(len(files))},
		Env: []string{}, Files: files, Dir: "/", Setsid: true,
		UID: -1, GID: -1, Umask: -1, LandlockFD: -1, LastCap: int(s.lastCap),
	})
	if err != nil {
		unix.Close(sp[0])
		return nil, startErr("daemon", fmt.Errorf("start the -D helper: %w", err))
	}
	go s.watch(h1, true).await() // it exits as soon as stage 2 runs

	conn := os.NewFile(uintptr(sp[0]), "daemon-helper")
	go func() {
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(data)))
		if _, err := unix.Write(sp[0], n[:]); err == nil {
			writeAll(sp[0], data)
		}
	}()
	kind, payload, fd, err := readHelperMsg(sp[0])
	switch {
	case err != nil:
		conn.Close()
		return nil, startErr("daemon", fmt.Errorf("the -D helper ended before starting the program: %w", err))
	case kind == msgError:
		conn.Close()
		return nil, helperError(payload)
	case kind != msgPid || len(payload) != 4:
		closeFD(fd)
		conn.Close()
		return nil, startErr("daemon", errors.New("the -D helper sent an unexpected message"))
	}
	c := &child{pid: int(binary.LittleEndian.Uint32(payload)), pgrp: lp.Setsid, done: make(chan struct{})}
	if fd >= 0 {
		c.pidfd = os.NewFile(uintptr(fd), "pidfd")
	}
	go func() {
		defer conn.Close()
		kind, payload, fd, err := readHelperMsg(sp[0])
		closeFD(fd)
		if err == nil && kind == msgStatus && len(payload) == 4 {
			c.ws = unix.WaitStatus(binary.LittleEndian.Uint32(payload))
		} else {
			c.lost = true
		}
		c.finish()
		close(c.done)
	}()
	return c, nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// readHelperMsg reads one message (blocking) and the descriptor that came
// with it, or -1.
func readHelperMsg(fd int) (byte, []byte, int, error) {
	head := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fd, head, oob, unix.MSG_CMSG_CLOEXEC)
	for err == unix.EINTR {
		n, oobn, _, _, err = unix.Recvmsg(fd, head, oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		return 0, nil, -1, err
	}
	if n == 0 {
		return 0, nil, -1, io.EOF
	}
	passed := -1
	if oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) > 0 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
				passed = fds[0]
				for _, extra := range fds[1:] {
					unix.Close(extra)
				}
			}
		}
	}
	var size int
	switch head[0] {
	case msgPid, msgStatus:
		size = 4
	case msgError:
		size = 16
	default:
		closeFD(passed)
		return 0, nil, -1, fmt.Errorf("unknown helper message %q", head[0])
	}
	payload := make([]byte, size)
	if err := readFullFD(fd, payload); err != nil {
		closeFD(passed)
		return 0, nil, -1, err
	}
	if head[0] == msgError {
		extra := make([]byte, min(binary.LittleEndian.Uint32(payload[12:]), 4096))
		if err := readFullFD(fd, extra); err != nil {
			return 0, nil, -1, err
		}
		payload = append(payload, extra...)
	}
	return head[0], payload, passed, nil
}

func readFullFD(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		b = b[n:]
	}
	return nil
}

// helperError rebuilds the launcher error that stage 2 reported.
func helperError(p []byte) error {
	le := &launch.Error{
		Step:  launch.Step(binary.LittleEndian.Uint32(p[0:])),
		Index: int(binary.LittleEndian.Uint32(p[4:])),
		Errno: syscall.Errno(binary.LittleEndian.Uint32(p[8:])),
	}
	le.Detail = string(p[16:])
	if le.Step == launch.StepNone {
		return startErr("daemon", errors.New(le.Detail))
	}
	return launchErr(le)
}

// DaemonHelperMain runs a -D helper stage; args are os.Args[2:] when
// os.Args[1] is DaemonHelperArg. It returns the stage's exit status.
//
// Preconditions: called first thing in the process, from the main
// goroutine; descriptors 0 to the count in args are the ones the server
// handed over.
func DaemonHelperMain(args []string) int {
	if len(args) < 1 {
		return 2
	}
	switch args[0] {
	case daemonStage1:
		if len(args) != 2 {
			return 2
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n <= helperFD {
			return 2
		}
		files := make([]uintptr, n)
		for i := range files {
			files[i] = uintptr(i)
		}
		// Stage 2 in a new session; this process exits at once, so stage 2
		// is reparented away from the server: daemon(0, 0).
		_, err = syscall.ForkExec("/proc/self/exe", []string{"cove", "serve", DaemonHelperArg, daemonStage2, args[1]}, &syscall.ProcAttr{
			Dir: "/", Env: []string{}, Files: files, Sys: &syscall.SysProcAttr{Setsid: true},
		})
		if err != nil {
			sendHelperError(launch.StepNone, 0, 0, "start the -D helper's second stage: "+err.Error())
			return 1
		}
		return 0
	case daemonStage2:
		if len(args) != 2 {
			return 2
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n <= helperFD {
			return 2
		}
		return daemonStage2Main(n)
	}
	return 2
}

func sendHelperError(step launch.Step, index int, errno syscall.Errno, detail string) {
	b := []byte{msgError}
	b = binary.LittleEndian.AppendUint32(b, uint32(step))
	b = binary.LittleEndian.AppendUint32(b, uint32(index))
	b = binary.LittleEndian.AppendUint32(b, uint32(errno))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(detail)))
	writeAll(helperFD, append(b, detail...))
}

func daemonStage2Main(nfds int) int {
	name := []byte("dive-helper\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	var n [4]byte
	if err := readFullFD(helperFD, n[:]); err != nil {
		return 1
	}
	data := make([]byte, binary.LittleEndian.Uint32(n[:]))
	if err := readFullFD(helperFD, data); err != nil {
		return 1
	}
	var lp launch.Params
	if err := json.Unmarshal(data, &lp); err != nil {
		sendHelperError(launch.StepNone, 0, 0, "decode parameters: "+err.Error())
		return 1
	}
	pid, err := launch.Start(&lp)
	if err != nil && lp.Setctty && isStep(err, launch.StepSetctty) {
		lp.Setctty = false // never steal a terminal (dived bug 15)
		pid, err = launch.Start(&lp)
	}
	if err != nil {
		var le *launch.Error
		if errors.As(err, &le) {
			sendHelperError(le.Step, le.Index, le.Errno, le.Detail)
		} else {
			sendHelperError(launch.StepNone, 0, 0, err.Error())
		}
		return 1
	}
	// Only the socket stays: the program's peers must see EOF when it
	// closes its copies.
	for fd := helperFD + 1; fd < nfds; fd++ {
		unix.Close(fd)
	}
	var msg [5]byte
	msg[0] = msgPid
	binary.LittleEndian.PutUint32(msg[1:], uint32(pid))
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		writeAll(helperFD, msg[:])
	} else {
		unix.Sendmsg(helperFD, msg[:], unix.UnixRights(pidfd), nil, 0)
		unix.Close(pidfd)
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	msg[0] = msgStatus
	binary.LittleEndian.PutUint32(msg[1:], uint32(ws))
	writeAll(helperFD, msg[:])
	return 0
}
