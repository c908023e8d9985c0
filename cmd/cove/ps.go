package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/registry"
)

const psUsage = `Usage: cove ps [--json]

List your running named containers (cove contain --name, cove run --name):
NAME, the PID of the container's program (what cove inject joins), its
ROOTFS ("-" for cove run), the USER who started it and its UPTIME.
--json prints one JSON array instead (name, pid, init_pid, supervisor_pid,
rootfs, profile, uid, user, created, uptime_seconds).

Names live in $XDG_RUNTIME_DIR/cove when XDG_RUNTIME_DIR is set, else in
/run/cove for root and /run/user/UID/cove (or /tmp/cove-UID without a login
session) for other users; each user sees only their own. A container is identified by its program's pid, start time
and namespaces, checked through a pidfd on every use, never by process name
or environment; records of containers that are gone (their supervisor was
killed with SIGKILL) are deleted here. See docs/ps.md.

Exit status: 0; 125 if the registry cannot be read.
`

func psMain(args []string, stdout, stderr io.Writer) int {
	asJSON := false
	for _, a := range args {
		switch a {
		case "-h", "--help":
			fmt.Fprint(stdout, psUsage)
			return 0
		case "--json":
			asJSON = true
		default:
			fmt.Fprintf(stderr, "cove ps: unknown argument %s (usage: cove ps [--json])\n", a)
			return exitSetup
		}
	}
	d, err := registry.Open()
	if err != nil {
		fmt.Fprintf(stderr, "cove ps: %s\n", oneLine(err))
		return exitSetup
	}
	defer d.Close()
	recs, err := d.List()
	if err != nil {
		fmt.Fprintf(stderr, "cove ps: %s\n", oneLine(err))
		return exitSetup
	}
	now := time.Now()
	if asJSON {
		type entry struct {
			Name          string    `json:"name"`
			PID           int       `json:"pid"`
			InitPID       int       `json:"init_pid,omitempty"`
			SupervisorPID int       `json:"supervisor_pid"`
			Rootfs        string    `json:"rootfs"`
			Profile       string    `json:"profile,omitempty"`
			UID           int       `json:"uid"`
			User          string    `json:"user"`
			Created       time.Time `json:"created"`
			UptimeSeconds int64     `json:"uptime_seconds"`
		}
		list := []entry{}
		for _, r := range recs {
			list = append(list, entry{
				Name: r.Name, PID: r.Program.PID, InitPID: r.Init, SupervisorPID: r.Supervisor,
				Rootfs: r.Rootfs, Profile: r.Profile, UID: r.UID, User: userName(r.UID),
				Created: r.Created, UptimeSeconds: int64(now.Sub(r.Created) / time.Second),
			})
		}
		b, _ := json.MarshalIndent(list, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	w := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPID\tROOTFS\tUSER\tUPTIME")
	for _, r := range recs {
		root := r.Rootfs
		if root == "" {
			root = "-"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", r.Name, r.Program.PID, root, userName(r.UID), uptime(now.Sub(r.Created)))
	}
	w.Flush()
	return 0
}

// userName is uid's login name, or the number.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// uptime prints d to the second below a minute, then in two units.
func uptime(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 0:
		return "0s"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// nameClaim holds a --name for a sandbox: checked free before the sandbox
// starts, registered once it runs, removed when it ends.
type nameClaim struct {
	dir  *registry.Dir
	name string
	rec  *registry.Record
}

// claimName opens the caller's registry and checks that name is free.
// The caller must release the claim on every path.
func claimName(name string) (*nameClaim, error) {
	if err := registry.ValidateName(name); err != nil {
		return nil, fmt.Errorf("--name: %w", err)
	}
	d, err := registry.Open()
	if err != nil {
		return nil, fmt.Errorf("--name: %w", err)
	}
	if err := d.Check(name); err != nil {
		d.Close()
		var inUse *registry.InUseError
		if errors.As(err, &inUse) {
			return nil, err
		}
		return nil, fmt.Errorf("--name: %w", err)
	}
	return &nameClaim{dir: d, name: name}, nil
}

// register records the started sandbox of cmd under the claimed name. A
// program that already ended is not registered (and is no error).
func (c *nameClaim) register(cmd *cove.Cmd, rootfs, profile string) error {
	if cmd.Pid <= 0 {
		return errors.New("--name: the kernel did not tell the program's pid")
	}
	rec, err := registry.Describe(c.name, cmd.Pid, cmd.InitPid())
	if errors.Is(err, registry.ErrGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	rec.Rootfs, rec.Profile = rootfs, profile
	if err := c.dir.Register(rec); err != nil {
		var inUse *registry.InUseError
		if errors.As(err, &inUse) {
			return err
		}
		return fmt.Errorf("--name: %w", err)
	}
	c.rec = rec
	return nil
}

// release removes the record, if one was made, and closes the registry.
// A nil claim is fine.
func (c *nameClaim) release() {
	if c == nil {
		return
	}
	if c.rec != nil {
		c.dir.Remove(c.rec)
	}
	c.dir.Close()
}
