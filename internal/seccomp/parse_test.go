package seccomp

import (
	"errors"
	"reflect"
	"testing"
)

// TestParseErrors is the golden list of parser messages: each names the line
// and the offending token.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		text string
		want string
	}{
		{"unknown syscall", "default allow\ndeny mountt", `line 2: unknown syscall "mountt"`},
		{"unknown group", "default allow\ndeny @mnt", `line 2: unknown group "@mnt" (see docs/seccomp.md for the list)`},
		{"syscall written as a group", "default allow\ndeny @ptrace", `line 2: unknown group "@ptrace" ("ptrace" is a syscall: drop the @)`},
		{"group written without @", "default allow\ndeny mount\ndeny keyring", `line 3: unknown syscall "keyring" (the group is spelled "@keyring")`},
		{"bad errno name", "default allow\nerrno EFOO ptrace", `line 2: bad errno "EFOO": want a name such as EPERM or a number 0..4095`},
		{"errno out of range", "default allow\nerrno 4096 ptrace", `line 2: bad errno "4096": want a name such as EPERM or a number 0..4095`},
		{"negative errno", "default allow\nerrno -1 ptrace", `line 2: bad errno "-1": want a name such as EPERM or a number 0..4095`},
		{"errno without value", "default allow\nerrno", `line 2: "errno" needs an errno name or number`},
		{"bad default errno", "default errno EPRM", `line 1: default: bad errno "EPRM": want a name such as EPERM or a number 0..4095`},
		{"missing default", "deny ptrace\n", `no "default" line: start the policy with "default allow" (a deny list) or "default errno EPERM" (an allow list)`},
		{"second default", "default allow\n\ndefault kill-process", `line 3: second "default" line (the first is line 1)`},
		{"second unknown", "default allow\nunknown errno ENOSYS\nunknown allow", `line 3: second "unknown" line`},
		{"junk after default action", "default allow ptrace", `line 1: default: unexpected "ptrace" after the action`},
		{"unknown action", "default allow\nblock ptrace", `line 2: unknown action "block": want allow, deny, errno N|ENAME, kill-process, kill-thread, trap or log`},
		{"syscall where the action goes", "default allow\nptrace", `line 2: unknown action "ptrace": a rule starts with an action ("deny ptrace") or ends with one after conditions ("ptrace arg0 == 1: deny")`},
		{"action without names", "default allow\ndeny", `line 2: "deny" names no system calls`},
		{"bad argument index", "default allow\nioctl arg7 == 1: deny", `line 2: bad argument "arg7": want arg0..arg5`},
		{"bad argument spelling", "default allow\nioctl arg01 == 1: deny", `line 2: bad argument "arg01": want arg0..arg5`},
		{"bad argument word", "default allow\nioctl argv == 1: deny", `line 2: bad argument "argv": want arg0..arg5`},
		{"bad operator", "default allow\nioctl arg1 = TIOCSTI: deny", `line 2: bad operator "=": want ==, !=, <, <=, > or >=`},
		{"bad operator word", "default allow\nioctl arg1 is TIOCSTI: deny", `line 2: bad operator "is": want ==, !=, <, <=, > or >=`},
		{"missing value", "default allow\nioctl arg1 ==: deny", `line 2: missing value after "=="`},
		{"bad value", "default allow\nioctl arg1 == TIOCFOO: deny", `line 2: bad value "TIOCFOO": not a number or a known constant`},
		{"bad value in an or", "default allow\nclone arg0 & CLONE_NEWUSER|CLONE_NEWFOO != 0: deny", `line 2: bad value "CLONE_NEWFOO": not a number or a known constant`},
		{"value too big for 32-bit ioctl request", "default allow\nioctl arg1 == 0x12300005412: deny", `line 2: arg1 of ioctl is 32 bits wide in the kernel; value 0x12300005412 or mask 0x0 does not fit`},
		{"value outside the mask", "default allow\nunshare arg0 & 0x10 == 0x20: deny", `line 2: value 0x20 has bits outside the mask 0x10, so the condition can never hold`},
		{"ordering after a mask", "default allow\nunshare arg0 & 0x10 > 0: deny", `line 2: bad operator ">" after a mask: want == or !=`},
		{"conditions not joined", "default allow\nioctl arg1 == 1 arg1 == 2: deny", `line 2: unexpected "arg1" after a condition: join conditions with &&`},
		{"dangling and", "default allow\nioctl arg1 == 1 &&: deny", `line 2: missing condition after "&&"`},
		{"no condition before colon", "default allow\nioctl: deny", `line 2: no condition before ":": write "ACTION NAME..." for an unconditional rule`},
		{"no names before condition", "default allow\narg1 == 1: deny", `line 2: "arg1": a conditional rule starts with syscall names`},
		{"nothing before colon", "default allow\n: deny", `line 2: nothing before ":": want "NAME... argN OP VALUE: ACTION"`},
		{"two colons", "default allow\nioctl arg1 == 1: deny: allow", `line 2: more than one ":" on the line`},
		{"missing action after colon", "default allow\nioctl arg1 == 1:", `line 2: missing action: want allow, deny, errno N|ENAME, kill-process, kill-thread, trap or log`},
		{"junk after action", "default allow\nioctl arg1 == 1: deny now", `line 2: unexpected "now" after the action`},
		{"unknown syscall in conditional rule", "default allow\nioctll arg1 == 1: deny", `line 2: unknown syscall "ioctll"`},
		{"missing operator", "default allow\nioctl arg1: deny", `line 2: missing operator after "arg1"`},
		{"missing mask", "default allow\nioctl arg1 &: deny", `line 2: missing mask after "arg1 &"`},
		{"lone bang", "default allow\nioctl arg1 ! 1: deny", `line 2: bad operator "!": want ==, !=, <, <=, > or >=`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.text)
			if err == nil {
				t.Fatalf("Parse succeeded, want error %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, want *ParseError", err)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	text := `# comment line
default errno EPERM   # trailing comment
unknown kill-process
allow read write @basic-io
deny @mount
errno EACCES openat
errno 13 open
kill-process ptrace
kill-thread vhangup
trap acct
log uname
ioctl arg1 == TIOCSTI: errno EPERM
ioctl arg1==TIOCLINUX:deny
clone unshare arg0 & CLONE_NEWUSER|CLONE_NEWNS != 0: deny
personality arg0 != 0 && arg0 != 0xffffffff: deny
socket arg0 >= AF_PACKET && arg0 <= 0o100: errno EAFNOSUPPORT
mmap arg2 & 0b100 == 0b100: log
lseek arg2 > 4 && arg2 < 0x1_0000_0000_0: allow
`
	p, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if p.Default != Deny {
		t.Errorf("default = %v, want errno EPERM", p.Default)
	}
	if p.Unknown == nil || p.Unknown.Kind != ActKillProcess {
		t.Errorf("unknown = %v, want kill-process", p.Unknown)
	}
	if len(p.Rules) != 15 {
		t.Fatalf("%d rules, want 15", len(p.Rules))
	}
	want := Rule{
		Names:  []string{"clone", "unshare"},
		Conds:  []Cond{{Arg: 0, Masked: true, Mask: 0x10020000, Op: OpNe, Value: 0}},
		Action: Deny,
		Origin: "line 14",
	}
	if !reflect.DeepEqual(p.Rules[10], want) {
		t.Errorf("rule 11 = %+v, want %+v", p.Rules[10], want)
	}
	if got := p.Rules[3].Action; got.Kind != ActErrno || got.Errno != 13 {
		t.Errorf("errno 13 parsed as %v", got)
	}
	if p.Rules[14].Conds[1].Value != 0x1_0000_0000_0 {
		t.Errorf("underscored hex parsed as %#x", p.Rules[14].Conds[1].Value)
	}
	// Every supported architecture compiles it.
	for _, arch := range testArchs {
		if _, err := p.Compile(arch); err != nil {
			t.Errorf("compile for %s: %v", arch, err)
		}
	}
}

// TestPolicyStringRoundTrip checks that String renders a policy Parse reads
// back unchanged (apart from where the rules came from).
func TestPolicyStringRoundTrip(t *testing.T) {
	for _, userns := range []bool{false, true} {
		p, err := Default(DefaultOptions{AllowUserns: userns})
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, p)
		}
		for i := range p.Rules {
			p.Rules[i].Origin, q.Rules[i].Origin = "", ""
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("round trip changed the policy:\n%s\n%s", p, q)
		}
	}
}

func TestLaterRulesWin(t *testing.T) {
	cases := []struct {
		name string
		text string
		call string
		args []uint64
		want Action
	}{
		{"later unconditional overrides earlier", "default allow\ndeny @mount\nallow mount", "mount", nil, Allow},
		{"earlier group member still denied", "default allow\ndeny @mount\nallow mount", "umount2", nil, eperm},
		{"later conditional checked first", "default allow\nioctl arg1 == 1: errno EIO\nioctl arg1 < 5: errno EBADF", "ioctl", []uint64{0, 1}, Errno(5 + 4)},
		{"earlier conditional reached when the later fails", "default allow\nioctl arg1 == 7: errno EIO\nioctl arg1 < 5: errno EBADF", "ioctl", []uint64{0, 7}, Errno(5)},
		{"unconditional hides earlier conditionals", "default allow\nioctl arg1 == 7: errno EIO\nerrno EBADF ioctl", "ioctl", []uint64{0, 7}, Errno(9)},
		{"conditional after unconditional falls back to it", "default allow\nerrno EBADF ioctl\nioctl arg1 == 7: allow", "ioctl", []uint64{0, 8}, Errno(9)},
		{"conditional after unconditional can allow", "default allow\nerrno EBADF ioctl\nioctl arg1 == 7: allow", "ioctl", []uint64{0, 7}, Allow},
	}
	for _, arch := range testArchs {
		for _, tc := range cases {
			t.Run(arch+"/"+tc.name, func(t *testing.T) {
				prog := mustBuild(t, Config{Mode: "file", File: tc.text, Arch: arch})
				if got := eval(t, prog, arch, tc.call, tc.args...); got != tc.want {
					t.Errorf("%s(%#x) = %v, want %v", tc.call, tc.args, got, tc.want)
				}
			})
		}
	}
}
