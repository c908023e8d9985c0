package caps

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		in        string
		want      Cap
		err       string
	}{
		{"kernel spelling", "CAP_NET_ADMIN", NET_ADMIN, ""},
		{"without prefix", "NET_ADMIN", NET_ADMIN, ""},
		{"lower case", "net_admin", NET_ADMIN, ""},
		{"mixed case and prefix", "Cap_Sys_Chroot", SYS_CHROOT, ""},
		{"surrounding space", " kill ", KILL, ""},
		{"first", "chown", CHOWN, ""},
		{"last known", "checkpoint_restore", CHECKPOINT_RESTORE, ""},
		{"number for newer kernels", "41", 41, ""},
		{"number above a set", "64", 0, `unknown capability "64": numbers go up to 63`},
		{"typo suggests", "net_admn", 0, `unknown capability "net_admn" (did you mean CAP_NET_ADMIN?)`},
		{"typo with prefix suggests", "CAP_SYS_CHROT", 0, `unknown capability "CAP_SYS_CHROT" (did you mean CAP_SYS_CHROOT?)`},
		{"nonsense has no suggestion", "frobnicate_everything", 0, `unknown capability "frobnicate_everything"`},
		{"empty", "", 0, `unknown capability: empty name`},
		{"ALL is not one capability", "all", 0, `unknown capability "all": ALL names every capability; use it in a list, not as one capability`},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("Parse(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				if !errors.Is(err, ErrUnknown) {
					t.Errorf("error %v does not wrap ErrUnknown", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestNamesRoundTrip(t *testing.T) {
	for c := Cap(0); c <= LastKnown; c++ {
		got, err := Parse(c.String())
		if err != nil || got != c {
			t.Errorf("Parse(%q) = %v, %v", c.String(), got, err)
		}
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		in        string
		want      Set
		err       string
	}{
		{"two names", "net_admin,sys_chroot", 1<<NET_ADMIN | 1<<SYS_CHROOT, ""},
		{"spaces around names", " net_admin , kill", 1<<NET_ADMIN | 1<<KILL, ""},
		{"duplicates collapse", "kill,CAP_KILL", 1 << KILL, ""},
		{"empty string is empty set", "", 0, ""},
		{"ALL is Full", "ALL", Full, ""},
		{"all any case, with others", "kill,all", Full, ""},
		{"empty element", "kill,,chown", 0, `capability list "kill,,chown": empty element`},
		{"unknown element", "kill,net_admn", 0, `unknown capability "net_admn" (did you mean CAP_NET_ADMIN?)`},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			got, err := ParseList(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("ParseList(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseList(%q) = %#x, %v; want %#x", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestSet(t *testing.T) {
	var s Set
	s.Add(NET_ADMIN, CHOWN, 64) // 64 does not fit and is ignored
	if !s.Has(NET_ADMIN) || !s.Has(CHOWN) || s.Has(KILL) || s.Has(64) {
		t.Fatalf("Has is wrong for %#x", s)
	}
	if got := s.String(); got != "CAP_CHOWN,CAP_NET_ADMIN" {
		t.Errorf("String() = %q", got)
	}
	s.Remove(CHOWN)
	if got := s.String(); got != "CAP_NET_ADMIN" {
		t.Errorf("after Remove, String() = %q", got)
	}
	if got := Set(0).String(); got != "none" {
		t.Errorf("empty String() = %q", got)
	}
	if got := Full.String(); got != "ALL" {
		t.Errorf("Full String() = %q", got)
	}
	if got := Set(1 << 45).String(); got != "45" {
		t.Errorf("unknown cap String() = %q", got)
	}
	if got, want := All(40), Set(0x1ffffffffff); got != want {
		t.Errorf("All(40) = %#x, want %#x", got, want)
	}
	if All(63) != Full {
		t.Errorf("All(63) != Full")
	}
	if m, err := ParseMask("000001ffffffffff"); err != nil || m != All(40) {
		t.Errorf("ParseMask = %#x, %v", m, err)
	}
	if _, err := ParseMask("zz"); err == nil {
		t.Errorf("ParseMask(zz) succeeded")
	}
}

func TestParseSecurebits(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		in        string
		want      Securebits
		err       string
	}{
		{"setpriv spelling", "noroot,keep-caps-locked", Noroot | KeepCapsLocked, ""},
		{"kernel spelling", "SECBIT_NO_SETUID_FIXUP,SECBIT_NOROOT_LOCKED", NoSetuidFixup | NorootLocked, ""},
		{"plus prefix", "+no-cap-ambient-raise", NoCapAmbientRaise, ""},
		{"every name", "noroot,noroot-locked,no-setuid-fixup,no-setuid-fixup-locked,keep-caps,keep-caps-locked,no-cap-ambient-raise,no-cap-ambient-raise-locked", 0xff, ""},
		{"empty", "", 0, ""},
		{"typo suggests", "keep-cap", 0, `unknown securebit "keep-cap" (did you mean keep-caps?)`},
		{"nonsense lists known", "everything-please-now", 0, `unknown securebit "everything-please-now" (known: noroot, noroot-locked, no-setuid-fixup, no-setuid-fixup-locked, keep-caps, keep-caps-locked, no-cap-ambient-raise, no-cap-ambient-raise-locked, exec-restrict-file, exec-restrict-file-locked, exec-deny-interactive, exec-deny-interactive-locked)`},
		{"empty element", "noroot,", 0, `securebits list "noroot,": empty element`},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			got, err := ParseSecurebits(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("ParseSecurebits(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSecurebits(%q) = %#x, %v; want %#x", tc.in, got, err, tc.want)
			}
		})
	}
	if got := (Noroot).LockAll(); got != 0xaab {
		t.Errorf("Noroot.LockAll() = %#x, want 0xaab", got)
	}
	if got := (Noroot | KeepCapsLocked).String(); got != "noroot,keep-caps-locked" {
		t.Errorf("String() = %q", got)
	}
}

func set(c ...Cap) Set {
	var s Set
	s.Add(c...)
	return s
}

func TestNewPlan(t *testing.T) {
	all := All(40)
	for _, tc := range []struct {
		behaviour string
		req       Request
		want      Plan // Last and UID are copied from req
		notes     int
		err       string
	}{
		{"nothing asked gives nothing", Request{}, Plan{}, 0, ""},
		{"root add goes to bounding, permitted, effective; inheritable stays empty",
			Request{Add: set(NET_ADMIN, SYS_CHROOT)},
			Plan{Bounding: set(NET_ADMIN, SYS_CHROOT), Permitted: set(NET_ADMIN, SYS_CHROOT), Effective: set(NET_ADMIN, SYS_CHROOT)}, 0, ""},
		{"drop ALL then add",
			Request{Add: set(KILL), Drop: Full},
			Plan{Bounding: set(KILL), Permitted: set(KILL), Effective: set(KILL)}, 0, ""},
		{"add ALL then drop, clamped to the kernel",
			Request{Add: Full, Drop: set(SYS_ADMIN)},
			Plan{Bounding: all &^ set(SYS_ADMIN), Permitted: all &^ set(SYS_ADMIN), Effective: all &^ set(SYS_ADMIN)}, 0, ""},
		{"ambient implies add and sets inheritable",
			Request{Ambient: set(NET_BIND_SERVICE), UID: 1000},
			Plan{Bounding: set(NET_BIND_SERVICE), Permitted: set(NET_BIND_SERVICE), Effective: set(NET_BIND_SERVICE),
				Inheritable: set(NET_BIND_SERVICE), Ambient: set(NET_BIND_SERVICE), KeepCaps: true}, 0, ""},
		{"non-root without ambient keeps caps only until execve (note)",
			Request{Add: set(NET_ADMIN), UID: 1000},
			Plan{Bounding: set(NET_ADMIN), Permitted: set(NET_ADMIN), Effective: set(NET_ADMIN), KeepCaps: true}, 1, ""},
		{"root under noroot is like non-root (note)",
			Request{Add: set(NET_ADMIN), Securebits: Noroot},
			Plan{Bounding: set(NET_ADMIN), Permitted: set(NET_ADMIN), Effective: set(NET_ADMIN)}, 1, ""},
		{"added and dropped", Request{Add: set(KILL, CHOWN), Drop: set(KILL)}, Plan{}, 0,
			"conflicting capability request: capabilities both added and dropped: CAP_KILL"},
		{"ambient and dropped", Request{Ambient: set(KILL), Drop: set(KILL)}, Plan{}, 0,
			"conflicting capability request: ambient capabilities also dropped: CAP_KILL"},
		{"ALL both ways", Request{Add: Full, Drop: Full}, Plan{}, 0,
			"conflicting capability request: ALL is both added and dropped"},
		{"ambient under no-cap-ambient-raise", Request{Ambient: set(KILL), Securebits: NoCapAmbientRaise}, Plan{}, 0,
			"conflicting capability request: securebit no-cap-ambient-raise forbids the ambient capabilities CAP_KILL"},
		{"capability newer than the kernel", Request{Add: set(41)}, Plan{}, 0,
			"capabilities not known to this kernel (last is CAP_CHECKPOINT_RESTORE): 41"},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			if tc.req.Last == 0 {
				tc.req.Last = 40
			}
			got, err := NewPlan(tc.req)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("NewPlan error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Notes) != tc.notes {
				t.Errorf("notes = %q, want %d", got.Notes, tc.notes)
			}
			tc.want.Last, tc.want.UID, tc.want.Notes = tc.req.Last, tc.req.UID, got.Notes
			if got.Bounding != tc.want.Bounding || got.Permitted != tc.want.Permitted || got.Effective != tc.want.Effective ||
				got.Inheritable != tc.want.Inheritable || got.Ambient != tc.want.Ambient || got.KeepCaps != tc.want.KeepCaps {
				t.Errorf("NewPlan =\n %+v\nwant\n %+v", got, tc.want)
			}
			// Invariants from the package doc.
			if got.Ambient&^(got.Permitted&got.Inheritable) != 0 {
				t.Errorf("ambient %s not within permitted ∩ inheritable", got.Ambient)
			}
			if got.Ambient == 0 && got.Inheritable != 0 {
				t.Errorf("inheritable %s without ambient", got.Inheritable)
			}
			if got.Bounding&^All(got.Last) != 0 {
				t.Errorf("bounding beyond last cap")
			}
		})
	}
}

func TestPlanLists(t *testing.T) {
	p, err := NewPlan(Request{Add: All(40) &^ set(CHOWN), Ambient: set(KILL), Last: 40})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.BoundingDrops(); len(d) != 1 || d[0] != CHOWN {
		t.Errorf("BoundingDrops = %v", d)
	}
	if a := p.AmbientRaises(); len(a) != 1 || a[0] != KILL {
		t.Errorf("AmbientRaises = %v", a)
	}
}
