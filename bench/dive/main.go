// Command dive benchmarks cove serve/cove dive against vi/dive's dive/dived
// when their paths are given: the CLI round trip of /bin/true (median), the
// CLI throughput with 8 concurrent clients, and starts per second through
// the Go client library on held connections. It prints ratios.
//
//	go run ./bench/dive -cove bin/cove [-dive PATH -dived PATH] [-n 300]
//
// Run it as root (the servers run as root, as in docs/serve.md).
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
)

func main() {
	cove := flag.String("cove", "bin/cove", "cove binary")
	dive := flag.String("dive", "", "vi/dive client binary (optional)")
	dived := flag.String("dived", "", "vi/dive server binary (optional)")
	n := flag.Int("n", 300, "round trips per measurement")
	flag.Parse()
	dir, err := os.MkdirTemp("", "cove-bench-dive-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)

	coveSock := filepath.Join(dir, "cove.sock")
	stop := startServer(exec.Command(*cove, "serve", coveSock, "--log-level", "error", "--max-clients", "128"), coveSock)
	defer stop()
	coveCLI := []string{*cove, "dive", coveSock, "/bin/true"}
	cMed := median(*n, coveCLI)
	cTput := throughput(8, *n, coveCLI)
	fmt.Printf("cove dive SOCK /bin/true   median %6.2f ms   8 clients %6.0f starts/s\n", ms(cMed), cTput)

	if *dive != "" && *dived != "" {
		dsock := filepath.Join(dir, "dived.sock")
		stopd := startServer(exec.Command(*dived, dsock), dsock)
		diveCLI := []string{*dive, dsock, "/bin/true"}
		dMed := median(*n, diveCLI)
		dTput := throughput(8, *n, diveCLI)
		stopd()
		fmt.Printf("dive SOCK /bin/true        median %6.2f ms   8 clients %6.0f starts/s\n", ms(dMed), dTput)
		fmt.Printf("ratio cove/dive            median %6.2f×      throughput %6.2f×\n", ms(cMed)/ms(dMed), cTput/dTput)
	}
	base := median(*n, []string{"/bin/true"})
	fmt.Printf("/bin/true fork+exec        median %6.2f ms\n", ms(base))

	lib := library(coveSock, 8, 5000)
	fmt.Printf("Go client, 8 held conns    %6.0f starts/s of /bin/true\n", lib)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/dive:", err)
	os.Exit(1)
}

func startServer(cmd *exec.Cmd, sock string) func() {
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
	slices.Sort(d)
	return d[n/2]
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
				p.Wait()
			}
		}(c)
	}
	wg.Wait()
	return float64(n/workers*workers) / time.Since(t0).Seconds()
}
