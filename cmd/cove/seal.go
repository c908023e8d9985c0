package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/covebox/cove/internal/seal"
)

const sealUsage = `Usage: cove seal [--] COMMAND [ARG...]

Run COMMAND from a sealed in-memory copy of its executable. cove finds
COMMAND as execvp does, copies it into a memfd named after the path it found,
seals the copy against every change (F_SEAL_SEAL, SHRINK, GROW, WRITE, and
EXEC where the kernel has it), and executes the copy in its own place: same
PID, environment, working directory, stdio, limits and credentials; argv[0]
is COMMAND as you wrote it.

Why: /proc/PID/exe opens a process's executable even from another mount
namespace. A program that joins a container (nsenter, a runtime's exec) can
have its binary on the host opened, and overwritten, by root inside the
container through /proc/PID/exe (CVE-2019-5736, the runc breakout). Run from
a sealed copy, /proc/PID/exe is "/memfd:/usr/bin/nsenter (deleted)": an
anonymous file that nobody can write, truncate or grow, even after the
process exits.

  cove seal nsenter --all --target=1234 sh    # join a container safely
  cove seal sh -c 'readlink /proc/$$/exe'     # /memfd:/usr/bin/sh (deleted)

Searching: a COMMAND with a "/" is used as it is; otherwise each directory of
PATH is tried in order (an empty entry is the current directory; without a
PATH variable, /usr/bin:/bin). The first regular file you may execute wins.

Scripts: a "#!" script runs, but only the script's bytes are sealed; its
interpreter runs from disk and is what /proc/PID/exe shows. The copy stays
open as /dev/fd/N for the interpreter ($0 is /dev/fd/N), so /proc must be
mounted. Seal the interpreter instead when the exe link matters:
cove seal sh ./script.

vm.memfd_noexec (Linux 6.3+, per PID namespace): under 1 cove seal still
works (it asks for an executable memfd with MFD_EXEC); under 2 executable
memfds are forbidden and cove seal fails with exit status 125.

Set-user-ID bits and file capabilities are not carried by the copy.

Exit status: COMMAND's own (cove is replaced by it); 125 if cove failed
(bad usage, no sealed copy possible); 126 if COMMAND was found but cannot be
read or executed; 127 if it was not found.

Invoked through a link named seal, cove behaves as arachsys seal: usage
errors exit 64, every failure exits 1.
`

func sealMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, sealUsage)
		return 0
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	} else if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		fmt.Fprintf(stderr, "cove seal: unknown option %s (usage: cove seal [--] COMMAND [ARG...]; see cove seal --help)\n", args[0])
		return exitSetup
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "cove seal: no command given (usage: cove seal [--] COMMAND [ARG...])")
		return exitSetup
	}
	env := os.Environ()
	err := seal.Run(args, env)
	fmt.Fprintf(stderr, "cove seal: %s\n", describeSealError(err, args[0], env))
	return seal.ExitCode(err)
}

// describeSealError says in one line why seal.Run failed for name.
func describeSealError(err error, name string, env []string) string {
	var se *seal.Error
	if !errors.As(err, &se) {
		return oneLine(err)
	}
	switch se.Op {
	case "find":
		switch {
		case errors.Is(se.Err, fs.ErrNotExist) && strings.Contains(name, "/"):
			return fmt.Sprintf("%s: no such file or directory", name)
		case errors.Is(se.Err, fs.ErrNotExist):
			path, where := seal.SearchPath(env), "PATH"
			if _, ok := os.LookupEnv("PATH"); !ok {
				where = "the default path"
			}
			return fmt.Sprintf("%s: command not found in %s (%s)", name, where, path)
		case errors.Is(se.Err, syscall.EACCES):
			return fmt.Sprintf("%s: cannot execute: permission denied (not a regular file with execute permission for you)", name)
		}
		return fmt.Sprintf("%s: cannot execute: %v", name, se.Err)
	case "open":
		return fmt.Sprintf("%s: cannot read it to make the sealed copy: %v", se.Name, se.Err)
	case "memfd_create":
		if errors.Is(se.Err, seal.ErrNoExec) {
			return fmt.Sprintf("%s: cannot make an executable sealed copy: executable memfds are forbidden in this PID namespace (vm.memfd_noexec=2); run the program unsealed, or from a PID namespace where vm.memfd_noexec is 0 or 1", se.Name)
		}
		return fmt.Sprintf("%s: cannot make the sealed copy: memfd_create: %v", se.Name, se.Err)
	case "copy", "seal":
		return fmt.Sprintf("%s: cannot make the sealed copy: %s: %v", se.Name, se.Op, se.Err)
	case "exec":
		if errors.Is(se.Err, fs.ErrNotExist) {
			return fmt.Sprintf("%s: cannot execute: %v (its #! interpreter or ELF loader is missing)", se.Name, se.Err)
		}
		return fmt.Sprintf("%s: cannot execute: %v", se.Name, se.Err)
	}
	return oneLine(err)
}

// sealTool is the drop-in personality: arachsys seal's syntax (no options),
// messages ("seal: NAME: No such file or directory") and exit codes (64
// usage, 1 any failure).
func sealTool(argv []string, stdout, stderr io.Writer) int {
	prog := filepath.Base(argv[0])
	if len(argv) < 2 {
		fmt.Fprintf(stderr, "Usage: %s PROG [ARG]...\n", argv[0])
		return 64
	}
	if len(argv) == 2 && (argv[1] == "-h" || argv[1] == "--help") {
		fmt.Fprintf(stdout, "Usage: %s PROG [ARG]...\n", argv[0])
		return 0
	}
	err := seal.Run(argv[1:], os.Environ())
	var se *seal.Error
	if !errors.As(err, &se) {
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return 1
	}
	var msg string
	switch se.Op {
	case "find":
		msg = fmt.Sprintf("%s: %s", se.Name, strerror(se.Err))
	case "open":
		msg = fmt.Sprintf("open %s: %s", se.Name, strerror(se.Err))
	case "memfd_create":
		msg = "memfd_create: " + strerror(se.Err)
		if errors.Is(se.Err, seal.ErrNoExec) {
			msg = "memfd_create: Permission denied (executable memfds are forbidden here: vm.memfd_noexec=2)"
		}
	case "copy":
		msg = "sendfile: " + strerror(se.Err)
	case "seal":
		msg = "fcntl F_ADD_SEALS: " + strerror(se.Err)
	default:
		msg = "fexecve: " + strerror(se.Err)
	}
	fmt.Fprintf(stderr, "%s: %s\n", prog, msg)
	return 1
}

// strerror is the C library's wording of an errno ("No such file or
// directory"): Go's text with a capital letter.
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return oneLine(err)
	}
	s := errno.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
