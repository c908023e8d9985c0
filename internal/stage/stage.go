// Package stage runs cove's two engine stages.
//
// Stage 0 is the caller's process (the cove CLI or a program using the
// library). Spawn starts stage 1 by re-executing the running binary from a
// sealed memfd copy, with the new namespaces as clone flags, and hands it a
// Config over a pipe. Stage 1 (Dispatch, run before main) builds the mount
// tree, sets the hostname and brings up lo, starts the program through the
// raw-fork launcher, and then stays as PID 1 of the sandbox: it reaps zombies,
// forwards signals, and reports the program's status to stage 0 over a
// control socket. When stage 0 goes away, stage 1 exits and the kernel kills
// every process left in the PID namespace.
package stage

import (
	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/internal/mount"
	"github.com/covebox/cove/spec"
	"golang.org/x/sys/unix"
)

// marker is the environment variable that makes a cove binary run stage 1
// instead of its main function. Its value names the stage.
const marker = "_COVE_STAGE"

// Stage 1's fd table: 0-2 are the program's stdio, then the config pipe, the
// control socket, and the program's extra files from firstExtraFD on.
const (
	configFD     = 3
	controlFD    = 4
	firstExtraFD = 5
)

// Config is everything stage 1 needs, sent as JSON by stage 0.
type Config struct {
	Plan     *mount.Plan `json:"plan,omitempty"`
	Hostname string      `json:"hostname,omitempty"`
	Loopback bool        `json:"loopback,omitempty"`
	Payload  Payload     `json:"payload"`
}

// Payload describes the program stage 1 starts through the launcher.
type Payload struct {
	// Path is the program, searched in the PATH of Env when it has no slash.
	Path string   `json:"path"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir,omitempty"`
	// Umask < 0 leaves the inherited mask.
	Umask int `json:"umask"`
	// UID and GID are ids inside the sandbox; SetGroups clears the
	// supplementary groups (only possible when setgroups is allowed).
	UID       int  `json:"uid"`
	GID       int  `json:"gid"`
	SetGroups bool `json:"set_groups,omitempty"`
	// Extra is the number of extra files (fds 3..3+Extra-1 in the program).
	Extra int `json:"extra,omitempty"`
	// Setctty makes fd 0, a terminal, the program's controlling terminal.
	Setctty bool `json:"setctty,omitempty"`

	Rlimits []launch.Rlimit `json:"rlimits,omitempty"`
	// Nice, when set, is the program's nice value; OOMScoreAdj, when set, is
	// written to its /proc/self/oom_score_adj.
	Nice        *int `json:"nice,omitempty"`
	OOMScoreAdj *int `json:"oom_score_adj,omitempty"`
	// KeepCaps leaves every capability set as the caller has it (root
	// running cove isolate without a user namespace).
	KeepCaps bool `json:"keep_caps,omitempty"`
	// DropBounding empties the bounding set except KeepBounding (needs
	// CAP_SETPCAP: always true inside a new user namespace).
	DropBounding bool `json:"drop_bounding,omitempty"`

	SetSecurebits bool   `json:"set_securebits,omitempty"`
	Securebits    uint32 `json:"securebits,omitempty"`
	LastCap       int    `json:"last_cap"`
	KeepBounding  uint64 `json:"keep_bounding,omitempty"`
	Effective     uint64 `json:"effective,omitempty"`
	Permitted     uint64 `json:"permitted,omitempty"`
	Inheritable   uint64 `json:"inheritable,omitempty"`
	Ambient       []int  `json:"ambient,omitempty"`

	NoNewPrivs bool              `json:"no_new_privs"`
	Seccomp    []unix.SockFilter `json:"seccomp,omitempty"`
	Landlock   spec.Landlock     `json:"landlock"`
}
