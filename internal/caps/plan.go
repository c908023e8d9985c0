package caps

import (
	"errors"
	"fmt"
)

// ErrConflict is wrapped by [NewPlan] errors about requests that contradict
// each other.
var ErrConflict = errors.New("conflicting capability request")

// Request is what a sandbox asks for. The starting point is no capabilities
// at all; Add grants, Drop takes away from Add when Add is [Full] ("add ALL,
// drop X"), and "drop ALL" is accepted as the explicit empty start
// ("drop ALL, add X"). Naming one capability in both Add and Drop is an
// error rather than a silent precedence rule.
type Request struct {
	Add  Set
	Drop Set
	// Ambient capabilities survive execve for a non-root uid. They are
	// implicitly added, and force the inheritable set to the same value.
	Ambient Set
	// UID is the user id the payload runs as, in its own user namespace.
	UID int
	// Last is the kernel's last capability, from [Last].
	Last Cap
	// Securebits the launcher will apply; checked for conflicts
	// (no-cap-ambient-raise with ambient capabilities).
	Securebits Securebits
}

// Plan is the exact capability state the launcher applies, in this order:
// drop every capability not in Bounding from the bounding set
// (PR_CAPBSET_DROP, needs CAP_SETPCAP, before setresuid); if KeepCaps,
// set SECBIT_KEEP_CAPS before setresuid; capset(Permitted, Effective,
// Inheritable) after setresuid; raise each of Ambient
// (PR_CAP_AMBIENT_RAISE).
//
// Invariants: Ambient ⊆ Permitted ∩ Inheritable; Inheritable is empty
// unless Ambient is not (CVE-2022-29162); Effective = Permitted ⊆ Bounding
// ⊆ All(Last).
type Plan struct {
	Bounding    Set
	Permitted   Set
	Effective   Set
	Inheritable Set
	Ambient     Set
	// Last is the kernel's last capability; BoundingDrops covers 0..Last.
	Last Cap
	// UID is Request.UID.
	UID int
	// KeepCaps is true when the payload runs as a non-zero uid with some
	// capabilities: the launcher must set SECBIT_KEEP_CAPS before
	// setresuid, or the uid change clears the permitted set and capset
	// fails with EPERM.
	KeepCaps bool
	// Notes explain consequences a user may not expect, one sentence each.
	Notes []string
}

// NewPlan checks r and computes the sets. It makes no syscalls.
func NewPlan(r Request) (Plan, error) {
	if r.Last > MaxCap {
		return Plan{}, fmt.Errorf("last capability %d is above %d, the largest a capability set can hold", r.Last, MaxCap)
	}
	all := All(r.Last)
	var granted Set
	switch {
	case r.Add == Full && r.Drop == Full:
		return Plan{}, fmt.Errorf("%w: ALL is both added and dropped", ErrConflict)
	case r.Drop == Full:
		granted = r.Add | r.Ambient
	case r.Add == Full:
		if both := r.Ambient & r.Drop; both != 0 {
			return Plan{}, fmt.Errorf("%w: ambient capabilities also dropped: %s", ErrConflict, both)
		}
		granted = (Full &^ r.Drop) | r.Ambient
	default:
		if both := r.Add & r.Drop; both != 0 {
			return Plan{}, fmt.Errorf("%w: capabilities both added and dropped: %s", ErrConflict, both)
		}
		if both := r.Ambient & r.Drop; both != 0 {
			return Plan{}, fmt.Errorf("%w: ambient capabilities also dropped: %s", ErrConflict, both)
		}
		granted = r.Add | r.Ambient
	}
	var named Set // capabilities named one by one, not through ALL
	for _, x := range []Set{r.Add, r.Ambient} {
		if x != Full {
			named |= x
		}
	}
	if beyond := named &^ all; beyond != 0 {
		return Plan{}, fmt.Errorf("capabilities not known to this kernel (last is %s): %s", r.Last, beyond)
	}
	granted &= all
	ambient := r.Ambient & all
	if ambient != 0 && r.Securebits.Has(NoCapAmbientRaise) {
		return Plan{}, fmt.Errorf("%w: securebit no-cap-ambient-raise forbids the ambient capabilities %s", ErrConflict, ambient)
	}
	p := Plan{
		Bounding:    granted,
		Permitted:   granted,
		Effective:   granted,
		Inheritable: ambient,
		Ambient:     ambient,
		Last:        r.Last,
		UID:         r.UID,
		KeepCaps:    r.UID != 0 && granted != 0,
	}
	// A non-root uid (or root under SECBIT_NOROOT) gets only the ambient set
	// across execve of a binary without file capabilities.
	if lost := granted &^ ambient; lost != 0 && (r.UID != 0 || r.Securebits.Has(Noroot)) {
		p.Notes = append(p.Notes, fmt.Sprintf(
			"uid %d keeps only ambient capabilities across execve: %s stay in the bounding set but are not effective unless also requested as ambient",
			r.UID, lost))
	}
	return p, nil
}

// BoundingDrops lists, in ascending order, the capabilities 0..Last the
// launcher drops from the bounding set.
func (p Plan) BoundingDrops() []Cap {
	return (All(p.Last) &^ p.Bounding).Caps()
}

// AmbientRaises lists, in ascending order, the capabilities the launcher
// raises in the ambient set after capset.
func (p Plan) AmbientRaises() []Cap { return p.Ambient.Caps() }
