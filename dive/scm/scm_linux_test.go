package scm

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestRights(t *testing.T) {
	if fds, err := Rights(nil); fds != nil || err != nil {
		t.Fatalf("no control data: %v %v", fds, err)
	}
	// Two SCM_RIGHTS messages and an SCM_CREDENTIALS one in between, as
	// they arrive over a real socket pair.
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	if err := unix.SetsockoptInt(sp[1], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	oob := append(unix.UnixRights(0, 1), unix.UnixRights(2)...)
	if err := unix.Sendmsg(sp[0], []byte("x"), oob, nil, 0); err != nil {
		t.Fatal(err)
	}
	buf, rb := make([]byte, 1), make([]byte, 256)
	_, oobn, _, _, err := unix.Recvmsg(sp[1], buf, rb, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := Rights(rb[:oobn])
	if err != nil || len(fds) != 3 {
		t.Fatalf("Rights = %v, %v; want 3 descriptors", fds, err)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	// A message whose header claims more bytes than arrived.
	bad := unix.UnixRights(0)
	(*unix.Cmsghdr)(unsafe.Pointer(&bad[0])).SetLen(len(bad) + 64)
	if _, err := Rights(bad); err == nil {
		t.Fatal("truncated control message parsed")
	}
}
