package wire

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// firstClientBytes returns the first DetectSize bytes each recorded real
// dive client sent (proto1100 golden transcripts).
func firstClientBytes(t testing.TB) map[string][]byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("..", "proto1100", "testdata", "*.transcript"))
	if len(paths) == 0 {
		t.Fatal("no proto1100 transcripts")
	}
	out := make(map[string][]byte)
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c2s []byte
		for _, line := range strings.Split(string(text), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "c2s" {
				b, err := hex.DecodeString(f[1])
				if err != nil {
					t.Fatal(err)
				}
				c2s = append(c2s, b...)
			}
		}
		out[filepath.Base(p)] = c2s[:DetectSize]
	}
	return out
}

func TestDetectRecordedDiveClients(t *testing.T) {
	for name, first := range firstClientBytes(t) {
		if k, err := Detect(first); k != KindDive1100 || err != nil {
			t.Errorf("%s: first bytes %x detected as %v, %v", name, first, k, err)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		first string
		kind  Kind
		err   error
	}{
		{"dive with terminal, waiting", "F\x01\x00\x00\x00", KindDive1100, nil},
		{"dive without terminal", "X\x01\x00\x00\x00", KindDive1100, nil},
		{"dive not waiting", "F\x00\x00\x00\x00", KindDive1100, nil},
		{"big-endian dive waiting", "F\x00\x00\x00\x01", KindDive1100, nil},
		{"native offer with terminal", "Fcove", KindNative, nil},
		{"native offer without terminal", "Xcove", KindNative, nil},
		{"extra bytes are ignored", "Fcove\x0c\x00", KindNative, nil},
		{"four bytes are not enough", "Fcov", KindUnknown, ErrShort},
		{"nothing yet", "", KindUnknown, ErrShort},
		{"wait flag 2 is no known client", "F\x02\x00\x00\x00", KindUnknown, ErrUnknownProtocol},
		{"a native frame header without the 1100 prelude", "\x0c\x00\x00\x00\x01", KindUnknown, ErrUnknownProtocol},
		{"an HTTP request", "GET /", KindUnknown, ErrUnknownProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Detect([]byte(tc.first))
			if k != tc.kind || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Detect(%q) = %v, %v; want %v, %v", tc.first, k, err, tc.kind, tc.err)
			}
		})
	}
}

func TestDetectReply(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		kind  Kind
		err   error
	}{
		{"cove server accepts", "COVE", KindNative, nil},
		{"dived enables waiting", "\x01\x00\x00\x00", KindDive1100, nil},
		{"dived -w refuses waiting", "\x00\x00\x00\x00", KindDive1100, nil},
		{"big-endian dived", "\x00\x00\x00\x01", KindDive1100, nil},
		{"garbage", "\x07\x00\x00\x00", KindUnknown, ErrUnknownProtocol},
		{"short", "CO", KindUnknown, ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := DetectReply([]byte(tc.reply))
			if k != tc.kind || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("DetectReply(%q) = %v, %v; want %v, %v", tc.reply, k, err, tc.kind, tc.err)
			}
		})
	}
}
