package wire

import (
	"bytes"
	"testing"
)

// FuzzWireDecode parses frames from arbitrary bytes, with as many
// descriptors as each header declares plus a fuzzer-chosen surplus, decodes
// them, and requires every accepted message to re-encode to the bytes and
// descriptors it came from.
func FuzzWireDecode(f *testing.F) {
	for _, g := range goldenMessages {
		fr, err := Encode(g.stream, g.msg)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := AppendFrame(nil, fr)
		f.Add(b, uint8(0))
	}
	f.Add(unhexNoT("0c000000 0100 0000 00000000 01000000 0700000000000000 08000000 0600 0000 07000000 02 00 0000 09000000"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, surplus uint8) {
		lim := Limits{FrameBytes: 1 << 16, FDs: 64, Args: 64, Env: 64, ArgBytes: 4096, EnvBytes: 4096}
		for len(data) > 0 {
			h, err := ParseHeader(data, lim)
			if err != nil {
				return
			}
			fds := make([]int, int(h.NFDs)+int(surplus%2))
			for i := range fds {
				fds[i] = 100 + i
			}
			fr, n, err := ParseFrame(data, fds, lim)
			if err != nil {
				return
			}
			m, err := Decode(fr, lim)
			if err != nil {
				return
			}
			again, err := Encode(fr.Stream, m)
			if err != nil {
				t.Fatalf("accepted %#v does not encode: %v", m, err)
			}
			b, err := AppendFrame(nil, again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, data[:n]) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", b, data[:n])
			}
			for i := range fds {
				if again.FDs[i] != fds[i] {
					t.Fatalf("descriptors re-encode as %v, want %v", again.FDs, fds)
				}
			}
			data = data[n:]
		}
	})
}

// FuzzDetect requires Detect and DetectReply to classify any input without
// panicking, and a native verdict only for the upgrade strings.
func FuzzDetect(f *testing.F) {
	for _, b := range firstClientBytes(f) {
		f.Add(b)
	}
	f.Add([]byte("Fcove"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := Detect(b); err == nil && k == KindNative && string(b[1:5]) != UpgradeOffer {
			t.Fatalf("Detect(%x) = native", b)
		}
		if k, err := DetectReply(b); err == nil && k == KindNative && string(b[:4]) != UpgradeAccept {
			t.Fatalf("DetectReply(%x) = native", b)
		}
	})
}
