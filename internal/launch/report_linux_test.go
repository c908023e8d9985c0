package launch

import (
	"errors"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// controlPair returns our end of a control socket as ReadReport gets it
// (through the poller when inPoller, else a blocking descriptor the poller
// does not know) and the init's end, which the caller closes.
func controlPair(t *testing.T, inPoller bool) (*os.File, int) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	var f *os.File
	if inPoller {
		if f, err = pollable(pair[0], "control"); err != nil {
			t.Fatal(err)
		}
	} else {
		f = os.NewFile(uintptr(pair[0]), "control") // blocking: not in the poller
	}
	t.Cleanup(func() { f.Close() })
	return f, pair[1]
}

// send writes rep as the init does: one packet with its credentials.
func send(t *testing.T, fd int, rep Report) {
	buf := (*[unsafe.Sizeof(rep)]byte)(unsafe.Pointer(&rep))[:]
	cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
	if err := unix.Sendmsg(fd, buf, cred, nil, 0); err != nil {
		t.Error(err)
	}
}

// ReadReport waits for a report that comes later, in the poller and, when
// the socket is not in it, in poll(2); it returns the report and the
// sender's pid from the credentials, and os.ErrClosed once the init's end is
// gone.
func TestReadReportWaits(t *testing.T) {
	for _, inPoller := range []bool{true, false} {
		f, peer := controlPair(t, inPoller)
		want := Report{Kind: ReportExited, Code: 42, Sig: 0}
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			time.Sleep(50 * time.Millisecond)
			send(t, peer, want)
		}()
		start := time.Now()
		got, pid, err := ReadReport(f)
		<-sent
		if err != nil || got != want || pid != os.Getpid() {
			t.Fatalf("poller %v: got %+v pid %d err %v, want %+v pid %d", inPoller, got, pid, err, want, os.Getpid())
		}
		if waited := time.Since(start); waited < 40*time.Millisecond {
			t.Errorf("poller %v: returned after %v, before the report was sent", inPoller, waited)
		}
		unix.Close(peer)
		if _, _, err := ReadReport(f); !errors.Is(err, os.ErrClosed) {
			t.Errorf("poller %v: after hang-up got %v, want os.ErrClosed", inPoller, err)
		}
	}
}
