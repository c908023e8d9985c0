package rlimit

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		in        string
		want      Limit // Resource is not compared
		err       string
	}{
		{"pair", "nofile=1024:4096", Limit{Name: "nofile", Soft: 1024, Hard: 4096}, ""},
		{"single value sets both (prlimit rule)", "core=0", Limit{Name: "core", Soft: 0, Hard: 0}, ""},
		{"unlimited", "as=unlimited", Limit{Name: "as", Soft: Infinity, Hard: Infinity}, ""},
		{"inf and infinity, any case", "stack=8388608:INF", Limit{Name: "stack", Soft: 8388608, Hard: Infinity}, ""},
		{"infinity spelled out", "cpu=Infinity:infinity", Limit{Name: "cpu", Soft: Infinity, Hard: Infinity}, ""},
		{"RLIMIT_ prefix and case", "RLIMIT_NPROC=10:20", Limit{Name: "nproc", Soft: 10, Hard: 20}, ""},
		{"soft only keeps hard", "nofile=512:", Limit{Name: "nofile", Soft: 512, KeepHard: true}, ""},
		{"hard only keeps soft", "nofile=:2048", Limit{Name: "nofile", Hard: 2048, KeepSoft: true}, ""},
		{"soft above hard", "nofile=4096:1024", Limit{}, "rlimit nofile: soft limit above hard limit: soft 4096 > hard 1024"},
		{"unlimited soft above hard", "fsize=unlimited:10", Limit{}, "rlimit fsize: soft limit above hard limit: soft unlimited > hard 10"},
		{"no equals", "nofile", Limit{}, `bad rlimit "nofile": want NAME=SOFT[:HARD], e.g. nofile=1024:4096`},
		{"typo suggests", "nofiles=1", Limit{}, `unknown rlimit "nofiles" (did you mean nofile?)`},
		{"nonsense lists names", "quantum=1", Limit{}, `unknown rlimit "quantum" (known: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)`},
		{"negative", "nofile=-1", Limit{}, `bad rlimit "nofile=-1": "-1" is not a number or "unlimited"`},
		{"bad hard", "nofile=1:lots", Limit{}, `bad rlimit "nofile=1:lots": hard limit: "lots" is not a number or "unlimited"`},
		{"empty value", "nofile=", Limit{}, `bad rlimit "nofile=": empty value`},
		{"both halves empty", "nofile=:", Limit{}, `bad rlimit "nofile=:": both halves empty`},
		{"overflow", "fsize=18446744073709551616", Limit{}, `bad rlimit "fsize=18446744073709551616": "18446744073709551616" is not a number or "unlimited"`},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("Parse(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			got.Resource = 0
			if got != tc.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestErrorsAreSentinels(t *testing.T) {
	for in, want := range map[string]error{
		"nofile=2:1": ErrSoftAboveHard,
		"nofle=1":    ErrUnknown,
		"nofile=x":   ErrSyntax,
	} {
		if _, err := Parse(in); !errors.Is(err, want) {
			t.Errorf("Parse(%q) = %v, want it to wrap %v", in, err, want)
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"nofile=1024:4096": "nofile=1024:4096",
		"core=0":           "core=0:0",
		"as=unlimited":     "as=unlimited:unlimited",
		"nofile=:8":        "nofile=:8",
	} {
		l, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
}
