// Package audit implements `cove audit [--json] [PID]`: a report of the
// isolation a process runs under, and an exposure score modelled on
// systemd-analyze security. docs/audit.md lists every check and its weight.
//
// Everything is read from /proc (and, for cove itself, prctl); the target
// is never modified.
package audit

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ExitUsage is the status for bad usage or an unreadable PID, as for every
// cove command that fails before it could do its job.
const ExitUsage = 125

// ErrNoProcess is wrapped when the PID cannot be read from /proc.
var ErrNoProcess = errors.New("cannot read process")

// Report is the result of an audit. The JSON field names are stable.
type Report struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	// Self is true when cove audited itself.
	Self bool `json:"self"`
	// Reference says whose namespaces Namespaces are compared with.
	Reference string      `json:"reference"`
	UID       []int       `json:"uid"` // real, effective, saved, filesystem, as the caller sees them
	GID       []int       `json:"gid"`
	Groups    []int       `json:"groups"`
	Namespace []Namespace `json:"namespaces"`
	UIDMap    []string    `json:"uid_map"`
	GIDMap    []string    `json:"gid_map"`
	Setgroups string      `json:"setgroups"`
	Caps      CapSets     `json:"capabilities"`
	// Securebits is null when it cannot be read (another process).
	Securebits *Securebits `json:"securebits"`
	NoNewPrivs bool        `json:"no_new_privs"`
	Seccomp    Seccomp     `json:"seccomp"`
	// Dumpable is "yes", "no" or "unknown".
	Dumpable string   `json:"dumpable"`
	Rlimits  []Rlimit `json:"rlimits"`
	Cgroup   []string `json:"cgroup"`
	// NetInterfaces lists the interfaces of the process's network
	// namespace, from /proc/PID/net/dev.
	NetInterfaces []string `json:"net_interfaces"`
	Exposure      Exposure `json:"exposure"`
	Notes         []string `json:"notes,omitempty"`
}

// Namespace compares one namespace of the target with the reference.
type Namespace struct {
	Type      string `json:"type"`
	Inode     uint64 `json:"inode"`     // 0 when unreadable
	Reference uint64 `json:"reference"` // 0 when unreadable
	// State is "private" (inodes differ), "shared" or "unknown".
	State string `json:"state"`
}

// CapSets holds the five capability sets by name, ascending.
type CapSets struct {
	Inheritable []string `json:"inheritable"`
	Permitted   []string `json:"permitted"`
	Effective   []string `json:"effective"`
	Bounding    []string `json:"bounding"`
	Ambient     []string `json:"ambient"`
}

// Securebits is the securebits mask and its flags' names.
type Securebits struct {
	Value uint32   `json:"value"`
	Names []string `json:"names"`
}

// Seccomp is /proc/PID/status's Seccomp and Seccomp_filters.
type Seccomp struct {
	Mode     int    `json:"mode"`
	ModeName string `json:"mode_name"` // disabled, strict, filter
	Filters  int    `json:"filters"`
}

// Rlimit is one row of /proc/PID/limits.
type Rlimit struct {
	Name string `json:"name"`
	Soft string `json:"soft"` // a number or "unlimited"
	Hard string `json:"hard"`
}

// Exposure is the overall verdict and the checks it is made of.
type Exposure struct {
	// Score is 0.0 (nothing exposed) to 10.0, lower is safer.
	Score  float64 `json:"score"`
	Label  string  `json:"label"`
	Checks []Check `json:"checks"`
}

// Check is one assessed property.
type Check struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Weight      int    `json:"weight"`
	Range       int    `json:"range"`
	// Badness is 0..Range; meaningless when Applicable is false.
	Badness    int  `json:"badness"`
	Applicable bool `json:"applicable"`
	// Finding says what was seen, in a few words.
	Finding string `json:"finding"`
}

// Main runs `cove audit`. args are the arguments after "audit". It returns
// the exit status: 0, or ExitUsage with a one-line message on stderr.
// helpText is cove audit's --help.
const helpText = `usage: cove audit [--json] [PID]

Report how isolated a process is: PID, or cove audit itself when omitted
(run it inside a sandbox: cove run -- cove audit, or through /proc/self/exe).

  namespaces     each of cgroup ipc mnt net pid pid_for_children time user uts,
                 compared by inode with the reference process: "private" or "shared"
  ids            real/effective/saved/fs uid and gid, groups, uid_map, gid_map, setgroups
  capabilities   the five sets by name: effective, permitted, inheritable, bounding, ambient
  securebits     and no_new_privs, seccomp mode and number of filters, dumpable
  limits         every rlimit, and the cgroup
  exposure       a score from 0.0 (tightly confined) to 10.0 (fully exposed) with the
                 checks that raised it; the weights are in docs/audit.md

Options:
  --json         print the report as JSON (stable field names)

Exit status: 0 with a report; 125 for bad usage or a PID that cannot be read.
`

func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cove audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cove audit [--json] [PID]")
	}
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, helpText)
			return 0
		}
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	pid := 0
	switch fs.NArg() {
	case 0:
	case 1:
		n, err := strconv.Atoi(fs.Arg(0))
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "cove audit: bad PID %q: want a positive number\n", fs.Arg(0))
			return ExitUsage
		}
		pid = n
	default:
		fmt.Fprintf(stderr, "cove audit: too many arguments (%s): usage: cove audit [--json] [PID]\n", strings.Join(fs.Args(), " "))
		return ExitUsage
	}
	r, err := Collect(pid)
	if err != nil {
		fmt.Fprintf(stderr, "cove audit: %v\n", err)
		return ExitUsage
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "cove audit: write: %v\n", err)
			return ExitUsage
		}
		return 0
	}
	if err := r.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "cove audit: write: %v\n", err)
		return ExitUsage
	}
	return 0
}
