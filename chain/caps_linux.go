package chain

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// capSet is a set of capabilities, bit n for capability n.
type capSet uint64

func (s capSet) has(c capability.Cap) bool { return s&(1<<uint(c)) != 0 }

// allCaps returns every capability the running kernel knows.
func allCaps() (capSet, error) {
	last, err := capability.LastCap()
	if err != nil {
		return 0, fmt.Errorf("find the last capability: %w", err)
	}
	return capSet(1)<<(uint(last)+1) - 1, nil
}

// parseCapNames parses capability names (net_admin, CAP_NET_ADMIN, any case) and "all".
func parseCapNames(names []string) (capSet, error) {
	var s capSet
	for _, n := range names {
		key := strings.TrimPrefix(strings.ToLower(n), "cap_")
		if key == "all" {
			all, err := allCaps()
			if err != nil {
				return 0, err
			}
			s |= all
			continue
		}
		found := false
		for _, c := range capability.ListKnown() {
			if c.String() == key {
				s |= 1 << uint(c)
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
	}
	return s, nil
}

// threadCaps are the calling thread's capability sets.
type threadCaps struct {
	effective, permitted, inheritable capSet
}

// getThreadCaps reads the calling thread's capabilities.
func getThreadCaps() (threadCaps, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return threadCaps{}, err
	}
	join := func(lo, hi uint32) capSet { return capSet(lo) | capSet(hi)<<32 }
	return threadCaps{
		effective:   join(data[0].Effective, data[1].Effective),
		permitted:   join(data[0].Permitted, data[1].Permitted),
		inheritable: join(data[0].Inheritable, data[1].Inheritable),
	}, nil
}

// setThreadCaps sets the calling thread's capabilities.
//
// Preconditions: runs on the locked thread that will exec.
func setThreadCaps(c threadCaps) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[1].Effective = uint32(c.effective), uint32(c.effective>>32)
	data[0].Permitted, data[1].Permitted = uint32(c.permitted), uint32(c.permitted>>32)
	data[0].Inheritable, data[1].Inheritable = uint32(c.inheritable), uint32(c.inheritable>>32)
	return unix.Capset(&hdr, &data[0])
}

// dropBoundingExcept drops every capability outside keep from the calling thread's bounding
// set.
//
// Preconditions: runs on the locked thread that will exec, with CAP_SETPCAP effective.
func dropBoundingExcept(keep capSet) error {
	last, err := capability.LastCap()
	if err != nil {
		return err
	}
	for c := capability.Cap(0); c <= last; c++ {
		if keep.has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s: %w", c, err)
		}
	}
	return nil
}

// raiseAmbient raises each capability of s in the calling thread's ambient set.
//
// Preconditions: runs on the locked thread that will exec; each capability is already in the
// permitted and inheritable sets.
func raiseAmbient(s capSet) error {
	for c := capability.Cap(0); c < 64; c++ {
		if !s.has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise %s: %w", c, err)
		}
	}
	return nil
}

// Securebits (linux/securebits.h).
var securebitNames = map[string]uint{
	"noroot": 0, "noroot-locked": 1,
	"no-setuid-fixup": 2, "no-setuid-fixup-locked": 3,
	"keep-caps": 4, "keep-caps-locked": 5,
	"no-cap-ambient-raise": 6, "no-cap-ambient-raise-locked": 7,
}

// parseSecurebits parses a comma-separated list of securebit names (with '_' or '-', optional
// "secbit_" prefix) or a number (0x.. allowed).
func parseSecurebits(s string) (int, error) {
	if n, err := strconv.ParseUint(s, 0, 8); err == nil {
		return int(n), nil
	}
	bits := 0
	for _, name := range splitList(s) {
		key := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(name), "secbit_"), "_", "-")
		b, ok := securebitNames[key]
		if !ok {
			return 0, fmt.Errorf("unknown securebit %q (known: noroot, no-setuid-fixup, keep-caps, no-cap-ambient-raise, each also with -locked)", name)
		}
		bits |= 1 << b
	}
	return bits, nil
}
