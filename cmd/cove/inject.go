package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/idmap"
	"github.com/covebox/cove/internal/registry"
	"github.com/covebox/cove/internal/seal"
	"github.com/covebox/cove/internal/stage"
	"github.com/covebox/cove/spec"
)

const injectUsage = `Usage: cove inject NAME|PID [COMMAND [ARG...]]

Run COMMAND (default $SHELL, else /bin/sh) inside the namespaces of a
container — the one registered as NAME (cove contain --name, cove run
--name; cove ps lists them), or process PID, a container's program — as root
of its user namespace: user namespace first, then cgroup, ipc, uts, net,
pid, time and mount; a fork puts COMMAND in the PID namespace; it starts in
"/" with your environment and stdio, no_new_privs and the default seccomp
policy. You must own the container's user namespace. A namespace without a
root (cove run without --map-root) is entered as the program's own uid and
gid there, without capabilities, as the program itself runs.

A NAME is looked up in your own registry only, and the container is
identified by its program's pid, start time and namespaces through a pidfd,
never by process name or environment (see docs/ps.md).

cove inject first re-executes itself from a sealed in-memory copy, so that
nothing in the container can reach the host's cove binary through
/proc/PID/exe (CVE-2019-5736); the joining process is also non-dumpable
until it executes COMMAND.

Exit status: COMMAND's; 128+N if it was killed by signal N; 125 if cove failed
(no such container or process, not yours, ...); 126 not executable; 127 not
found.
`

// sealedEnv marks a cove that already runs from its sealed copy.
const sealedEnv = "_COVE_SEALED"

func injectMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, injectUsage)
		return 0
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "cove inject: no NAME or PID given (usage: cove inject NAME|PID [COMMAND [ARG...]])")
		return exitSetup
	}
	target := args[0]
	pid, name := 0, ""
	if target != "" && strings.Trim(target, "0123456789") == "" {
		n, err := strconv.Atoi(target)
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "cove inject: %q is not a process id\n", target)
			return exitSetup
		}
		pid = n
	} else if err := registry.ValidateName(target); err != nil {
		fmt.Fprintf(stderr, "cove inject: %q is neither a container name nor a process id: %v\n", target, err)
		return exitSetup
	} else {
		name = target
	}
	if os.Getenv(sealedEnv) == "" {
		return reexecSealed(stderr)
	}
	os.Unsetenv(sealedEnv)
	var ctr *registry.Container
	if name != "" {
		c, err := lookupName(name)
		if err != nil {
			fmt.Fprintf(stderr, "cove inject: %s\n", oneLine(err))
			return exitSetup
		}
		defer c.Close()
		ctr, pid = c, c.Program.PID
	}
	s := spec.Inject(pid)
	if _, ok := unmappedRoot(pid); !ok {
		// A sandbox whose user namespace has no root (cove run without
		// --map-root): enter as its program's own ids, without
		// capabilities, as that program runs.
		uid, gid, err := insideIDs(pid)
		if err != nil {
			fmt.Fprintf(stderr, "cove inject: %s\n", oneLine(err))
			return exitSetup
		}
		s.IDs.UID, s.IDs.GID = &uid, &gid
		s.Security.CapAdd = nil
	}

	command := args[1:]
	if len(command) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		command = []string{sh}
	}
	cmd := cove.Command(s, command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.KeepSession = true
	err := cmd.Start()
	if err == nil && ctr != nil && !ctr.Alive() {
		// The namespaces were opened by pid after Lookup checked it; only
		// a program still alive now proves that the pid was not reused in
		// between. It is gone: stop COMMAND, which may have started in
		// whatever process took the pid over (the library checked that its
		// user namespace is ours, unless we are root).
		cmd.Kill()
		cmd.Wait()
		fmt.Fprintf(stderr, "cove inject: container %s ended while cove inject was joining it\n", name)
		return exitSetup
	}
	if err == nil {
		err = cmd.Wait()
	}
	var se *cove.SetupError
	if errors.As(err, &se) {
		switch se.Code {
		case exitNotFound:
			fmt.Fprintf(stderr, "cove inject: %s: command not found\n", command[0])
		case exitNotExec:
			fmt.Fprintf(stderr, "cove inject: %s: cannot execute: %v\n", command[0], errnoText(se))
		default:
			fmt.Fprintf(stderr, "cove inject: %s\n", strings.TrimPrefix(oneLine(se), "join: "))
		}
		return se.Code
	}
	if st := cmd.Status(); st != nil {
		return st.Code
	}
	fmt.Fprintf(stderr, "cove inject: %s\n", oneLine(err))
	return exitSetup
}

// unmappedRoot tells whether uid and gid 0 of pid's user namespace are
// mapped, as joining it as its root needs; if not, it names the id that is
// not. What cannot be read is left for the join to report.
func unmappedRoot(pid int) (string, bool) {
	for _, id := range []string{"uid", "gid"} {
		m, err := readIDMap(pid, id)
		if err != nil {
			continue
		}
		mapped := false
		for _, r := range m {
			mapped = mapped || (r.ContainerID == 0 && r.Size > 0)
		}
		if !mapped {
			return id, false
		}
	}
	return "", true
}

// readIDMap reads /proc/PID/{kind}_map.
func readIDMap(pid int, kind string) ([]idmap.Map, error) {
	m, err := idmap.ReadProc(fmt.Sprintf("/proc/%d/%s_map", pid, kind))
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	return m, nil
}

// insideIDs returns the real uid and gid of process pid as its own user
// namespace sees them: the host ids /proc/PID/status shows, translated
// through /proc/PID/uid_map and gid_map.
func insideIDs(pid int) (uid, gid uint32, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("process %d: %w", pid, err)
	}
	ids := map[string]uint32{}
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "Uid:" || f[0] == "Gid:") {
			host, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				return 0, 0, fmt.Errorf("process %d: bad %s line %q", pid, f[0], l)
			}
			kind := strings.ToLower(strings.TrimSuffix(f[0], ":"))
			in, err := mapInside(pid, kind, uint32(host))
			if err != nil {
				return 0, 0, err
			}
			ids[kind] = in
		}
	}
	u, okU := ids["uid"]
	g, okG := ids["gid"]
	if !okU || !okG {
		return 0, 0, fmt.Errorf("process %d: no Uid or Gid in its status", pid)
	}
	return u, g, nil
}

// mapInside translates host id through /proc/PID/{kind}_map.
func mapInside(pid int, kind string, host uint32) (uint32, error) {
	m, err := readIDMap(pid, kind)
	if err != nil {
		return 0, err
	}
	for _, r := range m {
		if int(host) >= r.HostID && int(host)-r.HostID < r.Size {
			return uint32(r.ContainerID + int(host) - r.HostID), nil
		}
	}
	return 0, fmt.Errorf("process %d runs as %s %d, which its user namespace does not map", pid, kind, host)
}

// lookupName finds the live container registered as name.
func lookupName(name string) (*registry.Container, error) {
	d, err := registry.Open()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	c, err := d.Lookup(name)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, fmt.Errorf("no container named %s (cove ps lists them)", name)
	}
	return c, err
}

// reexecSealed replaces this process with a sealed memfd copy of itself,
// same arguments, marked so that the copy goes on.
func reexecSealed(stderr io.Writer) int {
	f, err := stage.SealedSelf()
	if err != nil {
		fmt.Fprintf(stderr, "cove inject: %v\n", err)
		return exitSetup
	}
	// seal.Exec (execveat AT_EMPTY_PATH on the close-on-exec memfd) keeps
	// argv[0], needs no /proc, and hands the re-executed cove the caller's
	// open-file limit rather than the one Go raised at start-up.
	err = seal.Exec(f, os.Args, append(os.Environ(), sealedEnv+"=1"))
	fmt.Fprintf(stderr, "cove inject: re-execute from a sealed copy: %v\n", err)
	return exitSetup
}
