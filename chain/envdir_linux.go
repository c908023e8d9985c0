package chain

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// envdirError says which step of reading an environment directory failed, so each personality can
// word it as its original does.
type envdirError struct {
	op   string // "open" (the directory), "list" (reading its entries) or "read" (one file)
	name string // the file, for op "read"
	err  error
}

func (e *envdirError) Error() string { return fmt.Sprintf("%s %s: %v", e.op, e.name, e.err) }
func (e *envdirError) Unwrap() error { return e.err }

// listDir returns the names in dir in directory order (readdir's order, which the original tools
// see), without "." and "..".
func listDir(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, &envdirError{op: "open", err: err}
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		op := "list"
		if errnoOf(err) == syscall.ENOTDIR {
			op = "open"
		}
		return nil, &envdirError{op: op, err: err}
	}
	return names, nil
}

// readUpTo reads at most limit bytes of path (all of it when limit < 0).
func readUpTo(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, int64(limit))
	}
	return io.ReadAll(r)
}

// djbEnvdir reads dir with daemontools' rules and returns pathexec_env modifications ("name=value"
// or "name" to unset): files whose name starts with '.' are skipped; an empty file unsets its
// variable; otherwise the value is the first line with trailing spaces and tabs removed and NULs
// turned into newlines. Names are not checked, so a file "A=B" yields the modification "A=B=v".
// skipDirs makes subdirectories be ignored (runit chpst -e) instead of failing with EISDIR.
func djbEnvdir(dir string, skipDirs bool) ([]string, error) {
	names, err := listDir(dir)
	if err != nil {
		return nil, err
	}
	var mods []string
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		data, err := readUpTo(dir+"/"+name, -1)
		if err != nil {
			switch errnoOf(err) {
			case syscall.ENOENT: // vanished or dangling symlink: treated as empty
				data = nil
			case syscall.EISDIR:
				if skipDirs {
					continue
				}
				fallthrough
			default:
				return nil, &envdirError{op: "read", name: name, err: err}
			}
		}
		if len(data) == 0 {
			mods = append(mods, name)
			continue
		}
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[:i]
		}
		data = bytes.TrimRight(data, " \t")
		data = bytes.ReplaceAll(data, []byte{0}, []byte{'\n'})
		mods = append(mods, name+"="+string(data))
	}
	return mods, nil
}

// s6EnvdirOptions are s6-envdir's flags.
type s6EnvdirOptions struct {
	verbatim bool // -f: the whole file, not its first line
	noChomp  bool // -n: keep trailing blanks (first-line mode) or the final newline (-f)
	noClamp  bool // -L: read the whole file instead of its first 4095 bytes
	nullIs   byte // -c: what a NUL becomes; 0 means the value stops at the first NUL
}

// s6Envdir reads dir with skalibs' rules: files starting with '.' or containing '=' in their name
// are skipped; any unreadable entry (a subdirectory included) fails the whole directory.
func s6Envdir(dir string, o s6EnvdirOptions) ([]string, error) {
	names, err := listDir(dir)
	if err != nil {
		return nil, err
	}
	limit := 4095
	if o.noClamp {
		limit = -1
	}
	var mods []string
	for _, name := range names {
		if strings.HasPrefix(name, ".") || strings.Contains(name, "=") {
			continue
		}
		data, err := readUpTo(dir+"/"+name, limit)
		if err != nil {
			return nil, &envdirError{op: "read", name: name, err: err}
		}
		if len(data) == 0 {
			mods = append(mods, name)
			continue
		}
		if o.verbatim {
			if !o.noChomp && data[len(data)-1] == '\n' {
				data = data[:len(data)-1]
			}
		} else {
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				data = data[:i]
			}
			if !o.noChomp {
				data = bytes.TrimRight(data, " \t\r")
			}
		}
		if o.nullIs == 0 {
			if i := bytes.IndexByte(data, 0); i >= 0 {
				data = data[:i]
			}
		} else {
			data = bytes.ReplaceAll(data, []byte{0}, []byte{o.nullIs})
		}
		mods = append(mods, name+"="+string(data))
	}
	return mods, nil
}
