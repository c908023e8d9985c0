package dive

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	divec "github.com/covebox/cove/dive/client"
	"github.com/covebox/cove/internal/testutil"
)

var long = flag.Bool("long", false, "run the full 10,000-request load test")

// TestLoad: many requests from 64 concurrent held connections; every status
// arrives, and the server's fds, threads and children return to their
// baseline (no leaks, no zombies).
func TestLoad(t *testing.T) {
	need(t)
	n := 2000
	if *long || os.Getenv("COVE_DIVE_LOAD") != "" {
		n = 10000
		if v, err := strconv.Atoi(os.Getenv("COVE_DIVE_LOAD")); err == nil && v > 0 {
			n = v
		}
	}
	s := startServer(t, false, "--max-clients", "128")
	pid := s.cmd.Process.Pid
	// Warm up, then take the thread baseline.
	warm, err := divec.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	runTrue(t, warm, 1)
	warm.Close()
	time.Sleep(100 * time.Millisecond)
	fds0 := countFDs(pid)
	const workers = 64
	var bad atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cn, err := divec.Dial(s.sock)
			if err != nil {
				bad.Add(int64(n / workers))
				return
			}
			defer cn.Close()
			for i := w; i < n; i += workers {
				code := i % 7
				p, err := cn.Start(divec.Request{Argv: []string{"/bin/sh", "-c", "exit " + strconv.Itoa(code)}, Dir: -1, Root: -1, Terminal: -1})
				if err != nil {
					bad.Add(1)
					continue
				}
				x, err := p.Wait()
				if err != nil || int(x.Code) != code {
					bad.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(t0)
	t.Logf("%d requests in %v (%.0f/s)", n, el, float64(n)/el.Seconds())
	if b := bad.Load(); b != 0 {
		t.Errorf("%d of %d statuses lost or wrong", b, n)
	}
	var fds, zombies, threads int
	for i := 0; i < 50; i++ {
		time.Sleep(50 * time.Millisecond)
		fds, zombies, threads = countFDs(pid), testutil.Zombies(pid), countThreads(pid)
		if fds <= fds0 && zombies == 0 {
			break
		}
	}
	t.Logf("server fds %d (baseline %d), threads %d, zombies %d", fds, fds0, threads, zombies)
	if fds > fds0 || zombies != 0 {
		t.Errorf("leak: fds %d (baseline %d), zombies %d", fds, fds0, zombies)
	}
	// Go keeps idle threads; bound them rather than expect the baseline.
	if threads > 2*workers+16 {
		t.Errorf("%d server threads after the load", threads)
	}
}

func runTrue(t *testing.T, cn *divec.Conn, n int) {
	for i := 0; i < n; i++ {
		p, err := cn.Start(divec.Request{Argv: []string{"/bin/true"}, Dir: -1, Root: -1, Terminal: -1})
		if err != nil {
			t.Fatal(err)
		}
		p.Wait()
	}
}

func countFDs(pid int) int {
	e, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(e)
}

func countThreads(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
