package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints r as aligned tables for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	none := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ",")
	}
	ints := func(v []int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmt.Sprint(x)
		}
		return strings.Join(s, " ")
	}
	fmt.Fprintf(tw, "process\t%d (%s)\n", r.PID, r.Comm)
	fmt.Fprintf(tw, "compared with\t%s\n", r.Reference)
	fmt.Fprintf(tw, "uid (r e s fs)\t%s\n", ints(r.UID))
	fmt.Fprintf(tw, "gid (r e s fs)\t%s\n", ints(r.GID))
	fmt.Fprintf(tw, "groups\t%s\n", ints(r.Groups))
	fmt.Fprintf(tw, "uid_map\t%s\n", strings.Join(r.UIDMap, "; "))
	fmt.Fprintf(tw, "gid_map\t%s\n", strings.Join(r.GIDMap, "; "))
	fmt.Fprintf(tw, "setgroups\t%s\n", r.Setgroups)
	fmt.Fprintf(tw, "no_new_privs\t%v\n", r.NoNewPrivs)
	fmt.Fprintf(tw, "seccomp\t%s (mode %d), %d filter(s)\n", r.Seccomp.ModeName, r.Seccomp.Mode, r.Seccomp.Filters)
	if r.Securebits != nil {
		fmt.Fprintf(tw, "securebits\t%#x %s\n", r.Securebits.Value, none(r.Securebits.Names))
	} else {
		fmt.Fprintf(tw, "securebits\tunknown (readable only for cove itself)\n")
	}
	fmt.Fprintf(tw, "dumpable\t%s\n", r.Dumpable)
	fmt.Fprintf(tw, "net interfaces\t%s\n", none(r.NetInterfaces))
	fmt.Fprintf(tw, "cgroup\t%s\n", strings.Join(r.Cgroup, "; "))
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "NAMESPACE\tINODE\tREFERENCE\tSTATE")
	for _, n := range r.Namespace {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Type, inode(n.Inode), inode(n.Reference), n.State)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CAPABILITIES\t")
	fmt.Fprintf(tw, "effective\t%s\n", none(r.Caps.Effective))
	fmt.Fprintf(tw, "permitted\t%s\n", none(r.Caps.Permitted))
	fmt.Fprintf(tw, "inheritable\t%s\n", none(r.Caps.Inheritable))
	fmt.Fprintf(tw, "ambient\t%s\n", none(r.Caps.Ambient))
	fmt.Fprintf(tw, "bounding\t%s\n", none(r.Caps.Bounding))
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "RLIMIT\tSOFT\tHARD")
	for _, l := range r.Rlimits {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Name, l.Soft, l.Hard)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CHECK\tWEIGHT\tEXPOSED\tFINDING")
	for _, c := range r.Exposure.Checks {
		mark := "no"
		switch {
		case !c.Applicable:
			mark = "n/a"
		case c.Badness > 0:
			mark = fmt.Sprintf("%d/%d", c.Badness, c.Range)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", c.Name, c.Weight, mark, c.Finding)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	_, err := fmt.Fprintf(w, "\nexposure %.1f %s (0.0 is best, 10.0 worst; see docs/audit.md)\n", r.Exposure.Score, r.Exposure.Label)
	return err
}

func inode(n uint64) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
