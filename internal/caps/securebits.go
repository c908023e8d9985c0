package caps

import (
	"errors"
	"fmt"
	"strings"

	"github.com/covebox/cove/internal/suggest"
)

// Securebits is the per-thread securebits mask of prctl(PR_SET_SECUREBITS),
// see capabilities(7) and <linux/securebits.h>.
type Securebits uint32

// The securebits. Each flag's lock bit is the next bit up.
const (
	Noroot                    Securebits = 1 << 0
	NorootLocked              Securebits = 1 << 1
	NoSetuidFixup             Securebits = 1 << 2
	NoSetuidFixupLocked       Securebits = 1 << 3
	KeepCaps                  Securebits = 1 << 4
	KeepCapsLocked            Securebits = 1 << 5
	NoCapAmbientRaise         Securebits = 1 << 6
	NoCapAmbientRaiseLocked   Securebits = 1 << 7
	ExecRestrictFile          Securebits = 1 << 8 // Linux 6.14
	ExecRestrictFileLocked    Securebits = 1 << 9
	ExecDenyInteractive       Securebits = 1 << 10 // Linux 6.14
	ExecDenyInteractiveLocked Securebits = 1 << 11
)

// allLocks is every *_LOCKED bit cove knows.
const allLocks = NorootLocked | NoSetuidFixupLocked | KeepCapsLocked |
	NoCapAmbientRaiseLocked | ExecRestrictFileLocked | ExecDenyInteractiveLocked

// ErrUnknownSecurebit is wrapped by errors about securebit names.
var ErrUnknownSecurebit = errors.New("unknown securebit")

// securebitNames is indexed by bit number; read-only. The spelling is
// setpriv(1)'s; "SECBIT_NOROOT" style is accepted too.
var securebitNames = [...]string{
	"noroot", "noroot-locked",
	"no-setuid-fixup", "no-setuid-fixup-locked",
	"keep-caps", "keep-caps-locked",
	"no-cap-ambient-raise", "no-cap-ambient-raise-locked",
	"exec-restrict-file", "exec-restrict-file-locked",
	"exec-deny-interactive", "exec-deny-interactive-locked",
}

// ParseSecurebits reads a comma-separated list of securebit names, each as
// setpriv(1) spells it ("noroot", "keep-caps-locked") or as the kernel does
// ("SECBIT_NOROOT", "SECBIT_KEEP_CAPS_LOCKED"), in any case. A leading "+"
// is allowed and ignored. The empty string is the empty mask.
func ParseSecurebits(list string) (Securebits, error) {
	var sb Securebits
	if strings.TrimSpace(list) == "" {
		return 0, nil
	}
	for _, raw := range strings.Split(list, ",") {
		name := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(raw), "+"))
		name = strings.TrimPrefix(name, "secbit_")
		name = strings.ReplaceAll(name, "_", "-")
		if name == "" {
			return 0, fmt.Errorf("securebits list %q: empty element", list)
		}
		found := false
		for i, n := range securebitNames {
			if n == name {
				sb |= 1 << i
				found = true
				break
			}
		}
		if !found {
			if best := suggest.Closest(name, securebitNames[:]); best != "" {
				return 0, fmt.Errorf("%w %q (did you mean %s?)", ErrUnknownSecurebit, strings.TrimSpace(raw), best)
			}
			return 0, fmt.Errorf("%w %q (known: %s)", ErrUnknownSecurebit, strings.TrimSpace(raw), strings.Join(securebitNames[:], ", "))
		}
	}
	return sb, nil
}

// LockAll returns sb with every lock bit set, so that no flag can change
// after it is applied (what --lock-securebits asks for).
func (sb Securebits) LockAll() Securebits { return sb | allLocks }

// Has reports whether every bit of f is set in sb.
func (sb Securebits) Has(f Securebits) bool { return sb&f == f }

// Names lists the set bits' names, unknown bits as "bitN".
func (sb Securebits) Names() []string {
	var out []string
	for i := 0; i < 32; i++ {
		if sb&(1<<i) == 0 {
			continue
		}
		if i < len(securebitNames) {
			out = append(out, securebitNames[i])
		} else {
			out = append(out, fmt.Sprintf("bit%d", i))
		}
	}
	return out
}

// String lists the names separated by commas, or "none".
func (sb Securebits) String() string {
	if sb == 0 {
		return "none"
	}
	return strings.Join(sb.Names(), ",")
}
