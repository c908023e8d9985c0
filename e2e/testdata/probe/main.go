// Command probe is a small static helper that the e2e tests bind into a
// sandbox to check things a shell cannot: TIOCSTI, interface flags, loopback
// traffic. It prints one result line per check and exits 0 unless its own
// arguments are wrong, so the test decides what the results mean.
//
// Usage:
//
//	probe tiocsti TEXT   try ioctl(TIOCSTI) with every byte of TEXT on fds 0, 1, 2
//	                     and on /dev/tty; print "stat 0 DEV RDEV" for fd 0 and
//	                     "tiocsti TARGET ok|ERRNO"
//	probe ifflags NAME   print "flags NAME HEX" (SIOCGIFFLAGS)
//	probe loopback       connect to a listener on 127.0.0.1 and exchange a byte;
//	                     print "loopback ok" or "loopback ERROR"
package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe tiocsti TEXT | ifflags NAME | loopback")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "tiocsti":
		tiocsti(os.Args[2])
	case "ifflags":
		ifflags(os.Args[2])
	case "loopback":
		loopback()
	default:
		fmt.Fprintln(os.Stderr, "probe: unknown check", os.Args[1])
		os.Exit(2)
	}
}

func errName(err error) string {
	if e, ok := err.(syscall.Errno); ok {
		return fmt.Sprintf("errno=%d(%s)", int(e), e.Error())
	}
	return err.Error()
}

func inject(fd int, text string) error {
	for i := 0; i < len(text); i++ {
		b := text[i]
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCSTI, uintptr(unsafe.Pointer(&b))); e != 0 {
			return e
		}
	}
	return nil
}

func tiocsti(text string) {
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err == nil {
		fmt.Printf("stat 0 %d %d\n", st.Dev, st.Rdev)
	} else {
		fmt.Printf("stat 0 %s\n", errName(err))
	}
	for fd := 0; fd <= 2; fd++ {
		res := "ok"
		if err := inject(fd, text); err != nil {
			res = errName(err)
		}
		fmt.Printf("tiocsti fd%d %s\n", fd, res)
	}
	res := "ok"
	if fd, err := syscall.Open("/dev/tty", syscall.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
		res = "open " + errName(err)
	} else {
		if err := inject(fd, text); err != nil {
			res = errName(err)
		}
		syscall.Close(fd)
	}
	fmt.Printf("tiocsti /dev/tty %s\n", res)
}

func ifflags(name string) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Printf("flags %s socket %s\n", name, errName(err))
		return
	}
	defer syscall.Close(fd)
	var req struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&req))); e != 0 {
		fmt.Printf("flags %s %s\n", name, errName(e))
		return
	}
	fmt.Printf("flags %s %#x\n", name, req.flags)
}

func loopback() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Printf("loopback listen %v\n", err)
		return
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fmt.Printf("loopback dial %v\n", err)
		return
	}
	defer c.Close()
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 'x' {
		fmt.Printf("loopback read %q %v\n", b, err)
		return
	}
	fmt.Println("loopback ok")
}
