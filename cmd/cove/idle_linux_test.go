package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// exeRss sums the Rss of this process's read-only mappings of its own
// executable, in kB.
func exeRss(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[5] == exe && fields[1][1] != 'w'
			continue
		}
		if in && len(fields) >= 2 && fields[0] == "Rss:" {
			n, _ := strconv.Atoi(fields[1])
			total += n
		}
	}
	return total
}

// TestReleaseIdle: after releaseIdle, most of the binary's read-only pages
// are no longer mapped by the process (they refault from the page cache
// when needed), and the process still works.
func TestReleaseIdle(t *testing.T) {
	before := exeRss(t)
	releaseIdle()
	after := exeRss(t)
	t.Logf("read-only pages of the binary mapped: %d kB before, %d kB after", before, after)
	if before < 512 {
		t.Skipf("only %d kB of the test binary mapped: nothing to measure", before)
	}
	if after > before*3/4 {
		t.Fatalf("releaseIdle left %d of %d kB of the binary mapped", after, before)
	}
	// Still alive and able to run code it had dropped.
	if _, err := strconv.Atoi(strings.Repeat("7", 5)); err != nil {
		t.Fatal(err)
	}
}
