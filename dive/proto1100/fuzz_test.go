package proto1100

import (
	"bytes"
	"reflect"
	"testing"
)

// fuzzBuffer attaches a descriptor (numbered 100+offset) to every byte whose
// bit is set in mask, so the fuzzer controls both bytes and descriptor
// positions.
func fuzzBuffer(data, mask []byte) *Buffer {
	b := &Buffer{Data: data}
	for off := range data {
		if off/8 < len(mask) && mask[off/8]&(1<<(off%8)) != 0 {
			b.FDs = append(b.FDs, Rights{Offset: off, FD: 100 + off})
		}
	}
	return b
}

func maskOf(b Buffer) []byte {
	m := make([]byte, (len(b.Data)+7)/8)
	for _, r := range b.FDs {
		m[r.Offset/8] |= 1 << (r.Offset % 8)
	}
	return m
}

// prefix returns the first end bytes of b and the descriptors attached to
// them.
func prefix(b *Buffer, end int) ([]byte, []Rights) {
	var fds []Rights
	for _, r := range b.FDs {
		if r.Offset < end {
			fds = append(fds, r)
		}
	}
	return b.Data[:end], fds
}

// checkReencode compares out with the bytes of in up to end, the offset
// after the last message that decoded (a failed message may have consumed
// bytes too).
func checkReencode(t *testing.T, in *Buffer, end int, out Buffer) {
	t.Helper()
	data, fds := prefix(in, end)
	if !bytes.Equal(out.Data, data) || (len(fds) > 0 || len(out.FDs) > 0) && !reflect.DeepEqual(out.FDs, fds) {
		t.Fatalf("re-encoding differs:\n got %x %v\nwant %x %v", out.Data, out.FDs, data, fds)
	}
}

// FuzzDecode1100Request decodes a client→server stream (Intro, Request and,
// when the fuzzer's flag says so, the signal channel) and requires accepted
// input to re-encode to the bytes and descriptor positions it was read from.
func FuzzDecode1100Request(f *testing.F) {
	for _, tr := range loadTranscripts(f) {
		f.Add(tr.c2s.Data, maskOf(tr.c2s), true)
	}
	f.Fuzz(func(t *testing.T, data, mask []byte, withSignal bool) {
		in := fuzzBuffer(data, mask)
		d, _ := NewDecoder(in, LayoutLP64LE, Limits{Args: 64, ArgBytes: 4096, Env: 64, EnvBytes: 4096})
		var out Buffer
		e, _ := NewEncoder(&out, LayoutLP64LE)
		intro, err := d.ReadIntro()
		if err != nil {
			return
		}
		if err := e.WriteIntro(intro); err != nil {
			t.Fatalf("accepted intro %+v does not encode: %v", intro, err)
		}
		req, err := d.ReadRequest()
		if err != nil {
			return
		}
		if err := e.WriteRequest(req); err != nil {
			t.Fatalf("accepted request %+v does not encode: %v", req, err)
		}
		if withSignal {
			ch, err := d.ReadSignalChannel()
			if err != nil {
				return
			}
			if err := e.WriteSignalChannel(ch); err != nil {
				t.Fatalf("accepted signal channel %+v does not encode: %v", ch, err)
			}
		}
		checkReencode(t, in, in.Offset(), out)
	})
}

// FuzzDecode1100Reply decodes a server→client stream (Hello, WaitReply,
// Started, Exit) in the given layout and requires accepted input to
// re-encode identically.
func FuzzDecode1100Reply(f *testing.F) {
	for _, tr := range loadTranscripts(f) {
		f.Add(tr.s2c.Data, uint8(LayoutLP64LE))
	}
	f.Add([]byte("\x00\x00\x04\x4c\x00\x00\x00\x07\x00\x00\x00\x01"), uint8(LayoutILP32BE))
	f.Fuzz(func(t *testing.T, data []byte, layout uint8) {
		l := Layout(layout%4 + 1)
		in := &Buffer{Data: data}
		d, _ := NewDecoder(in, l, Limits{})
		var out Buffer
		e, _ := NewEncoder(&out, l)
		h, err := d.ReadHello()
		if err != nil {
			return
		}
		if err := e.WriteHello(h); err != nil {
			t.Fatalf("accepted hello %+v does not encode: %v", h, err)
		}
		end := in.Offset()
		defer func() { checkReencode(t, in, end, out) }()
		w, err := d.ReadWaitReply()
		if err != nil {
			return
		}
		if err := e.WriteWaitReply(w); err != nil {
			t.Fatal(err)
		}
		end = in.Offset()
		s, err := d.ReadStarted()
		if err != nil {
			return
		}
		if err := e.WriteStarted(s); err != nil {
			t.Fatalf("accepted started %+v does not encode: %v", s, err)
		}
		end = in.Offset()
		x, err := d.ReadExit()
		if err != nil {
			return
		}
		if err := e.WriteExit(x); err != nil {
			t.Fatalf("accepted exit %+v does not encode: %v", x, err)
		}
		end = in.Offset()
	})
}

// FuzzSiginfo requires every 128-byte datagram to survive a round trip.
func FuzzSiginfo(f *testing.F) {
	for _, tr := range loadTranscripts(f) {
		for _, s := range tr.sigs {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		si, err := LayoutLP64BE.ParseSiginfo(data)
		if err != nil {
			return
		}
		out, err := LayoutLP64BE.AppendSiginfo(nil, si)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip: %x, %v; want %x", out, err, data)
		}
	})
}
