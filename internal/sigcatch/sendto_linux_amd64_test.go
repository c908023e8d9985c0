package sigcatch

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSendTo: after SendTo, caught signals reach the target process from
// the handler itself, and one caught before the call (waiting in the pipe)
// reaches it first. In child processes: Catch works once per process, and
// the target is a receiver that prints what it gets.
func TestSendTo(t *testing.T) {
	switch os.Getenv("SIGCATCH_TEST_SENDTO") {
	case "receiver":
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, unix.SIGUSR1, unix.SIGUSR2)
		fmt.Println("ready")
		for i := 0; i < 2; i++ {
			fmt.Println((<-ch).(syscall.Signal) == unix.SIGUSR1)
		}
		os.Exit(0)
	case "sender":
		fmt.Println(sendToChild())
		os.Exit(0)
	}
	recv := exec.Command(os.Args[0], "-test.run=^TestSendTo$")
	recv.Env = append(os.Environ(), "SIGCATCH_TEST_SENDTO=receiver")
	out, err := recv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	defer recv.Process.Kill()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("receiver did not start: %q", lines.Text())
	}
	send := exec.Command(os.Args[0], "-test.run=^TestSendTo$")
	send.Env = append(os.Environ(), "SIGCATCH_TEST_SENDTO=sender", fmt.Sprintf("SIGCATCH_TARGET=%d", recv.Process.Pid))
	if b, err := send.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("sender: %v: %q", err, b)
	}
	var got []string
	for len(got) < 2 && lines.Scan() {
		got = append(got, lines.Text())
	}
	// USR1 (caught before SendTo, drained by it) first, then USR2.
	if strings.Join(got, " ") != "true false" {
		t.Fatalf("receiver got %q, want USR1 then USR2", got)
	}
	if err := recv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func sendToChild() string {
	c, err := Catch(unix.SIGUSR1, unix.SIGUSR2)
	if err != nil {
		return "catch: " + err.Error()
	}
	if err := c.SendTo(-1); err == nil {
		return "SendTo(-1) succeeded"
	}
	var pid int
	fmt.Sscan(os.Getenv("SIGCATCH_TARGET"), &pid)
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return "pidfd_open: " + err.Error()
	}
	unix.Kill(unix.Getpid(), unix.SIGUSR1) // caught: into the pipe
	time.Sleep(10 * time.Millisecond)
	if err := c.SendTo(fd); err != nil {
		return "SendTo: " + err.Error()
	}
	unix.Kill(unix.Getpid(), unix.SIGUSR2) // caught: straight to the target
	time.Sleep(10 * time.Millisecond)
	// Nothing of either is left for Next: the pipe is empty.
	pfd := []unix.PollFd{{Fd: int32(c.r), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n != 0 {
		return "a signal stayed in the pipe"
	}
	return "ok"
}
