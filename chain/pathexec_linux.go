package chain

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// searchStyle says how a tool family walks PATH when the program name has no '/'.
type searchStyle struct {
	// defaultPath is used when PATH is unset.
	defaultPath string
	// emptyIsDot makes an empty PATH element mean the current directory (djb); otherwise empty
	// elements are skipped (skalibs).
	emptyIsDot bool
}

func djbSearch() searchStyle     { return searchStyle{defaultPath: "/bin:/usr/bin", emptyIsDot: true} }
func skarnetSearch() searchStyle { return searchStyle{defaultPath: "/usr/bin:/bin"} }

// execSearch replaces the process image with file, run with argv and env. When file has no '/',
// it tries each element of path (the value of PATH; havePath=false means PATH was unset) in turn,
// the way djb's pathexec_run and skalibs' do: a missing file goes on to the next element, an
// EACCES/EPERM/EISDIR is remembered and the search goes on, any other error stops it. It returns
// only on failure, with the error the original tools would report.
//
// Preconditions: per-thread state (capabilities, securebits, no_new_privs, nice, namespaces) was
// set on the calling goroutine's locked OS thread, because only that thread survives execve.
func execSearch(file string, argv, env []string, path string, havePath bool, style searchStyle) error {
	if strings.Contains(file, "/") {
		return unix.Exec(file, argv, env)
	}
	if !havePath {
		path = style.defaultPath
	}
	var saved error
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			if !style.emptyIsDot {
				continue
			}
			dir = "."
		}
		err := unix.Exec(dir+"/"+file, argv, env)
		switch errnoOf(err) {
		case syscall.ENOENT:
			continue
		case syscall.EACCES, syscall.EPERM, syscall.EISDIR:
			saved = err
			continue
		default:
			return err
		}
	}
	if saved != nil {
		return saved
	}
	return syscall.ENOENT
}

// skarnetExecStatus is the exit status skarnet's tools use when exec fails: 127 for ENOENT, 126
// for anything else.
func skarnetExecStatus(err error) int {
	if errnoOf(err) == syscall.ENOENT {
		return 127
	}
	return 126
}
