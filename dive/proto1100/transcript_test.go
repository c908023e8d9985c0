package proto1100

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// transcript is a recorded protocol-1100 session (format in
// testdata/README.md): the bytes of each direction with the descriptors the
// client attached, and the signal datagrams.
type transcript struct {
	c2s, s2c Buffer
	sigs     [][]byte
}

func parseTranscript(text string) (transcript, error) {
	var tr transcript
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 {
			return tr, fmt.Errorf("line %d: want DIRECTION HEX", line)
		}
		data, err := hex.DecodeString(f[1])
		if err != nil {
			return tr, fmt.Errorf("line %d: %v", line, err)
		}
		var fds []int
		for _, extra := range f[2:] {
			list, ok := strings.CutPrefix(extra, "fd=")
			if !ok {
				return tr, fmt.Errorf("line %d: unknown field %q", line, extra)
			}
			for _, s := range strings.Split(list, ",") {
				n, err := strconv.Atoi(s)
				if err != nil {
					return tr, fmt.Errorf("line %d: %v", line, err)
				}
				fds = append(fds, n)
			}
		}
		switch f[0] {
		case "c2s", "s2c":
			b := &tr.c2s
			if f[0] == "s2c" {
				b = &tr.s2c
			}
			for _, fd := range fds {
				// sendmsg attaches the descriptors to the record's first byte.
				b.FDs = append(b.FDs, Rights{Offset: len(b.Data), FD: fd})
			}
			b.Data = append(b.Data, data...)
		case "sig":
			if len(fds) > 0 {
				return tr, fmt.Errorf("line %d: descriptors on a signal datagram", line)
			}
			tr.sigs = append(tr.sigs, data)
		default:
			return tr, fmt.Errorf("line %d: unknown direction %q", line, f[0])
		}
	}
	return tr, sc.Err()
}

func loadTranscripts(tb testing.TB) map[string]transcript {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.transcript"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no transcripts in testdata: %v", err)
	}
	out := make(map[string]transcript)
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		tr, err := parseTranscript(string(text))
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".transcript")] = tr
	}
	return out
}
