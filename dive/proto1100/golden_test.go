package proto1100

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
)

// session is a transcript decoded into messages.
type session struct {
	hello   Hello
	reply   WaitReply
	started Started
	exit    Exit

	intro   Intro
	req     Request
	sigchan SignalChannel
	sigs    []Siginfo
}

func decodeSession(t *testing.T, tr transcript) session {
	t.Helper()
	var s session
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s2c, err := NewDecoder(&tr.s2c, LayoutLP64LE, Limits{})
	must(err)
	c2s, err := NewDecoder(&tr.c2s, LayoutLP64LE, Limits{})
	must(err)
	s.hello, err = s2c.ReadHello()
	must(err)
	s.intro, err = c2s.ReadIntro()
	must(err)
	s.reply, err = s2c.ReadWaitReply()
	must(err)
	s.req, err = c2s.ReadRequest()
	must(err)
	if s.reply.Enabled {
		s.started, err = s2c.ReadStarted()
		must(err)
		s.sigchan, err = c2s.ReadSignalChannel()
		must(err)
		s.exit, err = s2c.ReadExit()
		must(err)
	}
	for _, d := range tr.sigs {
		si, err := LayoutLP64LE.ParseSiginfo(d)
		must(err)
		s.sigs = append(s.sigs, si)
	}
	if n := tr.s2c.Remaining(); n != 0 {
		t.Errorf("server→client: %d bytes left after the last message", n)
	}
	if n := tr.c2s.Remaining(); n != 0 {
		t.Errorf("client→server: %d bytes left after the last message", n)
	}
	return s
}

func encodeSession(t *testing.T, s session) (c2s, s2c Buffer, sigs [][]byte) {
	t.Helper()
	sv, _ := NewEncoder(&s2c, LayoutLP64LE)
	cl, _ := NewEncoder(&c2s, LayoutLP64LE)
	steps := []func() error{
		func() error { return sv.WriteHello(s.hello) },
		func() error { return cl.WriteIntro(s.intro) },
		func() error { return sv.WriteWaitReply(s.reply) },
		func() error { return cl.WriteRequest(s.req) },
	}
	if s.reply.Enabled {
		steps = append(steps,
			func() error { return sv.WriteStarted(s.started) },
			func() error { return cl.WriteSignalChannel(s.sigchan) },
			func() error { return sv.WriteExit(s.exit) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	for _, si := range s.sigs {
		b, err := LayoutLP64LE.AppendSiginfo(nil, si)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, b)
	}
	return c2s, s2c, sigs
}

// TestGoldenRoundTrip decodes every recorded session and re-encodes it byte
// for byte, descriptors at the same offsets.
func TestGoldenRoundTrip(t *testing.T) {
	for name, tr := range loadTranscripts(t) {
		t.Run(name, func(t *testing.T) {
			want := tr // decoding consumes the buffers; keep the originals
			want.c2s.Data, want.s2c.Data = slices.Clone(tr.c2s.Data), slices.Clone(tr.s2c.Data)
			s := decodeSession(t, tr)
			c2s, s2c, sigs := encodeSession(t, s)
			if !bytes.Equal(c2s.Data, want.c2s.Data) || !reflect.DeepEqual(c2s.FDs, want.c2s.FDs) {
				t.Errorf("client→server differs:\n got %x %v\nwant %x %v", c2s.Data, c2s.FDs, want.c2s.Data, want.c2s.FDs)
			}
			if !bytes.Equal(s2c.Data, want.s2c.Data) || len(s2c.FDs) != 0 {
				t.Errorf("server→client differs:\n got %x %v\nwant %x", s2c.Data, s2c.FDs, want.s2c.Data)
			}
			if !reflect.DeepEqual(sigs, want.sigs) {
				t.Errorf("signal datagrams differ:\n got %x\nwant %x", sigs, want.sigs)
			}
		})
	}
}

// TestGoldenMeaning pins what each recording says, so that a codec bug that
// decodes and re-encodes symmetrically still shows up.
func TestGoldenMeaning(t *testing.T) {
	stdio := []int{0, 1, 2}
	tests := []struct {
		name       string
		terminal   int // client fd sent in the terminal slot, or NoFD
		wait       bool
		enabled    bool
		fds        []int // fd-list numbers in order
		umask      uint32
		argv       []string
		envHas     string
		signalMode SignalMode
		status     int32
		sigs       []uint32
	}{
		{name: "basic", terminal: 0, wait: true, enabled: true, fds: []int{0, 1, 2, 3, 5, 7}, umask: 0o027,
			argv: []string{"sh", "-c", "pwd; umask; cat <&7; exit 3"}, envHas: "DIVE_CURDIR=/tmp/dv/work", status: 3},
		{name: "killed", terminal: 0, wait: true, enabled: true, fds: stdio, umask: 0o027,
			argv: []string{"sh", "-c", "kill -9 $$"}, status: 9},
		{name: "noterm", terminal: NoFD, wait: true, enabled: true, fds: stdio, umask: 0o027,
			argv: []string{"true"}, envHas: "DIVE_TERMINAL=@-1"},
		{name: "nowait", terminal: 0, fds: stdio, umask: 0o027, argv: []string{"true"}, envHas: "DIVE_WAITMODE=1"},
		{name: "refused", terminal: 0, wait: true, fds: []int{0, 1, 2, 6}, umask: 0o027, argv: []string{"true"}},
		{name: "emptyargv", terminal: 0, fds: stdio, umask: 0o027, argv: []string{}},
		{name: "terminal", terminal: 0, wait: true, enabled: true, fds: stdio, umask: 0o022,
			argv: []string{"sh", "-c", "tty; exit 0"}, envHas: "TERM=xterm"},
		{name: "termpath", terminal: 5, wait: true, enabled: true, fds: stdio, umask: 0o022,
			argv: []string{"sh", "-c", "tty; exit 0"}, envHas: "DIVE_TERMINAL=/dev/tty"},
		{name: "signal", terminal: 0, wait: true, enabled: true, fds: stdio, umask: 0o022,
			argv:       []string{"sh", "-c", `trap "exit 42" USR1; sleep 3 & wait; exit 1`},
			signalMode: SignalsProcess, status: 42, sigs: []uint32{10}},
		{name: "pgid", terminal: 0, wait: true, enabled: true, fds: stdio, umask: 0o022,
			argv: []string{"true"}, signalMode: SignalsGroup},
		{name: "highfd", terminal: 0, wait: true, enabled: true, fds: []int{0, 1, 2, 1023}, umask: 0o022,
			argv: []string{"sh", "-c", "exit 0"}},
	}
	trs := loadTranscripts(t)
	if len(trs) != len(tests) {
		t.Errorf("%d transcripts, %d cases: keep them in step", len(trs), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, ok := trs[tc.name]
			if !ok {
				t.Fatalf("no testdata/%s.transcript", tc.name)
			}
			s := decodeSession(t, tr)
			if s.intro.Terminal != tc.terminal || s.intro.Wait != tc.wait || s.reply.Enabled != tc.enabled {
				t.Errorf("intro %+v reply %+v, want terminal %d wait %v enabled %v", s.intro, s.reply, tc.terminal, tc.wait, tc.enabled)
			}
			var nums []int
			for _, p := range s.req.FDs {
				nums = append(nums, p.Num)
				if p.FD != p.Num {
					t.Errorf("fd %d travelled as client fd %d; dive sends each fd as itself", p.Num, p.FD)
				}
			}
			if !slices.Equal(nums, tc.fds) {
				t.Errorf("fd list %v, want %v", nums, tc.fds)
			}
			if s.req.Umask != tc.umask {
				t.Errorf("umask %#o, want %#o", s.req.Umask, tc.umask)
			}
			if s.req.Root == NoFD || s.req.Cwd == NoFD {
				t.Errorf("root %d cwd %d: dive always sends both", s.req.Root, s.req.Cwd)
			}
			if !slices.Equal(s.req.Argv, tc.argv) {
				t.Errorf("argv %q, want %q", s.req.Argv, tc.argv)
			}
			if tc.envHas != "" && !slices.Contains(s.req.Env, tc.envHas) {
				t.Errorf("env %q lacks %q", s.req.Env, tc.envHas)
			}
			if tc.enabled {
				if s.started.SignalMode != tc.signalMode || s.exit.Status != tc.status {
					t.Errorf("started %+v exit %+v, want mode %d status %d", s.started, s.exit, tc.signalMode, tc.status)
				}
				if (s.sigchan.FD != NoFD) != (tc.signalMode != SignalsOff) {
					t.Errorf("signal channel %d with mode %d", s.sigchan.FD, tc.signalMode)
				}
				if s.started.PID <= s.hello.HelperPID {
					t.Errorf("program pid %d not after helper pid %d", s.started.PID, s.hello.HelperPID)
				}
			}
			var sigs []uint32
			for _, si := range s.sigs {
				sigs = append(sigs, si.Signo)
			}
			if !slices.Equal(sigs, tc.sigs) {
				t.Errorf("forwarded signals %v, want %v", sigs, tc.sigs)
			}
		})
	}
}
