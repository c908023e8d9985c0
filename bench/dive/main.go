// Command dive benchmarks cove serve / cove dive against vi/dive's
// dive/dived when their paths are given, side by side in the same run:
//
//   - the CLI round trip of /bin/true (median of n runs),
//   - CLI throughput with 8 concurrent clients,
//   - the real dive client against cove serve and cove dive against the real
//     dived (which side costs what),
//   - starts per second through the Go client library on 8 held
//     connections.
//
// Each figure is the median of -rounds rounds; the rounds interleave cove
// and dive so that load from other processes hits both alike. It prints the
// ratios and the targets (CLI round trip ≤ 0.75× dive's, CLI
// throughput ≥ 1.5× dive's, library ≥ 3,000 starts/s).
//
//	go run ./bench/dive -cove bin/cove [-dive PATH -dived PATH] [-n 300] [-rounds 3]
//
// Run it as root: the servers run as root, as in docs/serve.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	divec "github.com/covebox/cove/dive/client"
	"golang.org/x/sys/unix"
)

func main() {
	cove := flag.String("cove", "bin/cove", "cove binary")
	dive := flag.String("dive", "", "vi/dive client binary (optional)")
	dived := flag.String("dived", "", "vi/dive server binary (optional)")
	n := flag.Int("n", 300, "CLI round trips per measurement")
	rounds := flag.Int("rounds", 3, "rounds; each figure is the median")
	libN := flag.Int("lib", 8000, "starts per library measurement")
	flag.Parse()
	dir, err := os.MkdirTemp("", "cove-bench-dive-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	abs, err := filepath.Abs(*cove)
	if err != nil {
		fail(err)
	}

	coveSock := filepath.Join(dir, "cove.sock")
	stop := startServer(exec.Command(abs, "serve", coveSock, "--log-level", "error", "--max-clients", "128"), coveSock)
	defer stop()
	real := *dive != "" && *dived != ""
	var dsock string
	if real {
		dsock = filepath.Join(dir, "dived.sock")
		stopd := startServer(exec.Command(*dived, dsock), dsock)
		defer stopd()
	}

	type series struct {
		name string
		argv []string
		med  []time.Duration
		tput []float64
	}
	all := []*series{{name: "cove dive → cove serve", argv: []string{abs, "dive", coveSock, "/bin/true"}}}
	if real {
		all = append(all,
			&series{name: "dive → dived", argv: []string{*dive, dsock, "/bin/true"}},
			&series{name: "dive → cove serve", argv: []string{*dive, coveSock, "/bin/true"}},
			&series{name: "cove dive → dived", argv: []string{abs, "dive", dsock, "/bin/true"}})
	}
	base := &series{name: "/bin/true (fork+exec)", argv: []string{"/bin/true"}}
	var lib []float64
	for r := 0; r < *rounds; r++ {
		for _, s := range append(all, base) {
			s.med = append(s.med, median(*n, s.argv))
			s.tput = append(s.tput, throughput(8, *n, s.argv))
		}
		lib = append(lib, library(coveSock, 8, *libN))
	}
	fmt.Printf("%-28s %12s %16s\n", "(median of rounds)", "round trip", "8 clients")
	for _, s := range append(all, base) {
		fmt.Printf("%-28s %9.2f ms %12.0f /s\n", s.name, ms(mid(s.med)), midf(s.tput))
	}
	fmt.Printf("%-28s %28.0f starts/s of /bin/true\n", "Go client, 8 held conns", midf(lib))
	if real {
		c, d := all[0], all[1]
		rt, tp := ms(mid(c.med))/ms(mid(d.med)), midf(c.tput)/midf(d.tput)
		fmt.Printf("\nratio cove/dive: round trip %.2f× (target ≤ 0.75×), throughput %.2f× (target ≥ 1.5×)\n", rt, tp)
	}
	fmt.Printf("library: %.0f starts/s (target ≥ 3000)\n", midf(lib))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/dive:", err)
	os.Exit(1)
}

func startServer(cmd *exec.Cmd, sock string) func() {
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	for i := 0; i < 300; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mid(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

func midf(f []float64) float64 {
	f = slices.Clone(f)
	slices.Sort(f)
	return f[len(f)/2]
}

func once(argv []string) time.Duration {
	t0 := time.Now()
	c := exec.Command(argv[0], argv[1:]...)
	if err := c.Run(); err != nil {
		fail(fmt.Errorf("%v: %w", argv, err))
	}
	return time.Since(t0)
}

func median(n int, argv []string) time.Duration {
	for i := 0; i < 20; i++ {
		once(argv)
	}
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = once(argv)
	}
	return mid(d)
}

func throughput(workers, n int, argv []string) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				once(argv)
			}
		}()
	}
	wg.Wait()
	return float64(n/workers*workers) / time.Since(t0).Seconds()
}

func library(sock string, workers, n int) float64 {
	conns := make([]*divec.Conn, workers)
	for i := range conns {
		c, err := divec.Dial(sock)
		if err != nil {
			fail(err)
		}
		conns[i] = c
		defer c.Close()
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func(c *divec.Conn) {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				p, err := c.Start(divec.Request{Argv: []string{"/bin/true"}, Dir: -1, Root: -1, Terminal: -1})
				if err != nil {
					fail(err)
				}
				if p.PidFD >= 0 {
					unix.Close(p.PidFD)
				}
				if _, err := p.Wait(); err != nil {
					fail(err)
				}
			}
		}(c)
	}
	wg.Wait()
	return float64(n/workers*workers) / time.Since(t0).Seconds()
}
