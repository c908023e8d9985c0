package server

import (
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/internal/testutil"
)

// TestReaper: with the test process as a child subreaper, programs that
// leave orphans behind are reported with their own status, even those that
// end before they are tracked, and the orphans reparented here are reaped.
func TestReaper(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	r := newReaper()
	defer r.stop()
	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				code := (w*40 + i) % 200
				pid, err := launch.Start(&launch.Params{Path: []string{"/bin/sh"},
					Argv:  []string{"sh", "-c", "sleep 0.05 </dev/null >/dev/null 2>&1 & exit " + strconv.Itoa(code)},
					Files: []int{-1, -1, 2}, UID: -1, GID: -1, Umask: -1, LandlockFD: -1})
				if err != nil {
					errs <- err.Error()
					return
				}
				if i%2 == 1 {
					time.Sleep(2 * time.Millisecond) // let some end before they are tracked
				}
				c := &child{pid: pid, done: make(chan struct{})}
				r.track(c)
				select {
				case <-c.done:
				case <-time.After(10 * time.Second):
					errs <- "no status for pid " + strconv.Itoa(pid)
					return
				}
				if !c.ws.Exited() || c.ws.ExitStatus() != code {
					errs <- "pid " + strconv.Itoa(pid) + ": status " + strconv.Itoa(int(c.ws)) + ", want exit " + strconv.Itoa(code)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		z := testutil.Zombies(os.Getpid())
		if z == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d zombies left among the test's children", z)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
