// Command bench measures cove against bubblewrap on this machine and prints
// medians and ratios (`make bench`). It is not a test: numbers depend on the
// machine and its load; run it on a quiet machine and read the ratios.
//
//   - start latency: `cove run -- /bin/true` against bwrap on the equivalent
//     configuration, runs alternating in one process;
//   - memory: the proportional set size (Pss) of cove's own processes while
//     a sandbox sleeps, against bwrap's two processes;
//   - density: the marginal Pss of each extra sandbox when this program runs
//     100 at once through the library, against bwrap's per-sandbox figure.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove"
	"github.com/covebox/cove/spec"
)

func main() {
	covePath := flag.String("cove", "bin/cove", "the cove binary to measure")
	runs := flag.Int("runs", 500, "runs of each command for latency (alternating; more runs, steadier medians)")
	n := flag.Int("sandboxes", 100, "sandboxes started at once for the density figure")
	flag.Parse()
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: bwrap not found (apt-get install bubblewrap, or make deps)")
		os.Exit(1)
	}
	abs, _ := filepath.Abs(*covePath)
	home := os.Getenv("HOME")
	bw := []string{bwrap, "--unshare-all", "--die-with-parent", "--new-session",
		"--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
		"--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", home,
		"--hostname", "cove"}
	cv := []string{abs, "run", "--"}

	fmt.Printf("machine: %s, uid %d\n\n", uname(), os.Getuid())
	latency(cv, bw, *runs)
	memory(cv, bw)
	density(bw, *n)
}

func uname() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}

// latency alternates the two commands so that drift in the machine's load
// affects both alike.
func latency(cv, bw []string, runs int) {
	var tc, tb []time.Duration
	for i := 0; i < runs+5; i++ {
		a := timeRun(append(cv, "/bin/true"))
		b := timeRun(append(bw, "/bin/true"))
		if i >= 5 { // warm-up
			tc, tb = append(tc, a), append(tb, b)
		}
	}
	mc, mb := median(tc), median(tb)
	fmt.Printf("start latency (median of %d, /bin/true)\n", runs)
	fmt.Printf("  cove run   %8.2f ms\n  bwrap      %8.2f ms\n  ratio      %8.2fx  (target <= 1.0x)\n\n", ms(mc), ms(mb), float64(mc)/float64(mb))
}

func timeRun(argv []string) time.Duration {
	start := time.Now()
	c := exec.Command(argv[0], argv[1:]...)
	if err := c.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n", strings.Join(argv, " "), err)
		os.Exit(1)
	}
	return time.Since(start)
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memory starts one sleeping sandbox with each tool and sums the Pss of the
// tool's own processes (everything in the tree except the sleeping program).
func memory(cv, bw []string) {
	c := ownPss(append(cv, "sleep", "5"))
	b := ownPss(append(bw, "sleep", "5"))
	fmt.Printf("memory of one sandbox (Pss of the tool's own processes)\n")
	fmt.Printf("  cove run   %8.0f kB\n  bwrap      %8.0f kB\n  ratio      %8.2fx  (target <= 4x)\n\n", c, b, c/b)
}

func ownPss(argv []string) float64 {
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(700 * time.Millisecond)
	var pids []int
	for _, pid := range tree(cmd.Process.Pid) {
		if comm(pid) != "sleep" {
			pids = append(pids, pid)
		}
	}
	return pssOnce(pids)
}

// pssOnce sums the Pss of pids, counting each address space once: a process
// that shares its memory with another (clone(CLONE_VM) without
// CLONE_THREAD, as cove's sandbox init does) reports the same pages in its
// own smaps, and adding both would count them twice.
func pssOnce(pids []int) float64 {
	total := 0.0
	var seen []int
	for _, pid := range pids {
		shared := false
		for _, s := range seen {
			if sameVM(pid, s) {
				shared = true
				break
			}
		}
		if shared {
			continue
		}
		seen = append(seen, pid)
		total += pss(pid)
	}
	return total
}

// sameVM tells whether two processes share one address space (kcmp(2),
// KCMP_VM). It needs the right to ptrace both, which root has.
func sameVM(a, b int) bool {
	const kcmpVM = 1
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), kcmpVM, 0, 0, 0)
	return errno == 0 && r == 0
}

// density measures the marginal Pss per sandbox when one process (this one)
// runs n sandboxes through the library, against bwrap's per-sandbox Pss.
func density(bw []string, n int) {
	self := os.Getpid()
	before := pss(self)
	s := spec.Default()
	cmds := make([]*cove.Cmd, 0, n)
	for i := 0; i < n; i++ {
		c := cove.Command(s, "sleep", "30")
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: start sandbox:", err)
			os.Exit(1)
		}
		cmds = append(cmds, c)
	}
	time.Sleep(time.Second)
	pids := []int{self}
	for _, c := range cmds {
		pids = append(pids, c.InitPid())
	}
	total := pssOnce(pids)
	for _, c := range cmds {
		c.Kill()
		c.Wait()
	}
	per := (total - before) / float64(n)
	b := ownPss(append(bw, "sleep", "5"))
	fmt.Printf("density: %d sandboxes from one Go program through the library\n", n)
	fmt.Printf("  cove marginal Pss per sandbox  %8.0f kB\n  bwrap Pss per sandbox          %8.0f kB\n  ratio                          %8.2fx  (target <= 0.5x)\n", per, b, per/b)
}

// tree lists pid and its descendants. A child belongs to the thread that
// created it, so every thread's children file is read: a Go program may
// start a process from any of its threads.
func tree(pid int) []int {
	out := []int{pid}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, tree(c)...)
			}
		}
	}
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// pss reads a process's proportional set size in kB.
func pss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseFloat(f[0], 64)
				return n
			}
		}
	}
	return 0
}
