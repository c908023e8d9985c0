package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/covebox/cove/internal/pivot"
)

const pivotUsage = `Usage: cove pivot [--] NEW [OLD]

Make the directory NEW the root filesystem of this mount namespace, with
pivot_root(2). Every process in the namespace whose root or working
directory was the old root moves to NEW.

  cove pivot NEW        the old root is detached before cove returns: nothing
                        of it stays reachable, and no umount program from the
                        new tree has to be trusted to remove it
  cove pivot NEW OLD    plain pivot_root: the old root stays mounted at OLD,
                        a directory at or under NEW (before the pivot)

One argument runs chdir(NEW), pivot_root(".", "."), then marks the old
root MS_SLAVE|MS_REC (so its removal does not propagate to other
namespaces) and unmounts it with MNT_DETACH, and ends in "/".

Needs: CAP_SYS_ADMIN in the user namespace that owns the mount namespace —
run it inside a new mount namespace (unshare -m as root, unshare -Urm
otherwise; never in the host's, whose root it would replace for every
process). NEW must be a mount point (mount --bind NEW NEW makes one), and the
mounts involved must not be shared (mount --make-rprivate / first;
util-linux unshare does that by default). Errors say which condition failed.

Example, a shell that ends up in a busybox tree:

  unshare -Urm sh -c 'mount --bind ./rootfs ./rootfs &&
      cove pivot ./rootfs && cd / && exec /bin/sh'

Exit status: 0 done; 125 bad usage or the pivot failed (with the reason).

Invoked through a link named pivot, cove behaves as arachsys pivot: usage
errors exit 64, failures exit 1.
`

func pivotMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, pivotUsage)
		return 0
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	} else if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		fmt.Fprintf(stderr, "cove pivot: unknown option %s (usage: cove pivot [--] NEW [OLD]; see cove pivot --help)\n", args[0])
		return exitSetup
	}
	switch {
	case len(args) == 0:
		fmt.Fprintln(stderr, "cove pivot: no NEW root given (usage: cove pivot [--] NEW [OLD])")
		return exitSetup
	case len(args) > 2:
		fmt.Fprintf(stderr, "cove pivot: too many arguments (%d): usage: cove pivot [--] NEW [OLD]\n", len(args))
		return exitSetup
	case args[0] == "":
		fmt.Fprintln(stderr, "cove pivot: NEW is empty: give the directory to make the root")
		return exitSetup
	case len(args) == 2 && args[1] == "":
		fmt.Fprintln(stderr, "cove pivot: OLD is empty: give a directory under NEW, or leave OLD out to detach the old root")
		return exitSetup
	}
	var err error
	if len(args) == 1 {
		err = pivot.Detach(args[0])
	} else {
		err = pivot.Root(args[0], args[1])
	}
	if err != nil {
		fmt.Fprintf(stderr, "cove pivot: %s\n", oneLine(err))
		return exitSetup
	}
	return 0
}

// pivotTool is the drop-in personality: arachsys pivot's syntax, messages
// ("pivot: cannot pivot to new root NEW: Invalid argument", here followed by
// the reason in parentheses) and exit codes (64 usage, 1 failure).
func pivotTool(argv []string, stdout, stderr io.Writer) int {
	prog := filepath.Base(argv[0])
	usage := fmt.Sprintf("Usage: %s NEW-ROOT [PUT-OLD]\n", argv[0])
	switch {
	case len(argv) == 2 && (argv[1] == "-h" || argv[1] == "--help"):
		fmt.Fprint(stdout, usage)
		return 0
	case len(argv) < 2 || len(argv) > 3:
		fmt.Fprint(stderr, usage)
		return 64
	}
	var err error
	if len(argv) == 2 {
		err = pivot.Detach(argv[1])
	} else {
		err = pivot.Root(argv[1], argv[2])
	}
	if err == nil {
		return 0
	}
	var pe *pivot.Error
	if !errors.As(err, &pe) {
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return 1
	}
	var msg string
	switch pe.Op {
	case "mount MS_SLAVE|MS_REC":
		msg = "cannot disable old root mount propagation: " + strerror(pe.Err)
	case "umount2 MNT_DETACH":
		msg = "cannot detach old root: " + strerror(pe.Err)
	default:
		if pe.Op == "chdir" && pe.Path == "/" {
			msg = "cannot change directory to the new root: " + strerror(pe.Err)
			break
		}
		msg = fmt.Sprintf("cannot pivot to new root %s: %s", argv[1], strerror(pe.Err))
		if pe.Hint != "" {
			msg += " (" + pe.Hint + ")"
		}
	}
	fmt.Fprintf(stderr, "%s: %s\n", prog, msg)
	return 1
}
