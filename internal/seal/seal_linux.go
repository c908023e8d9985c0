package seal

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Seals are the seals Copy adds. F_SEAL_EXEC (Linux 6.3) is added on top
// where the kernel knows it.
const Seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// maxName is the longest memfd name the kernel accepts: NAME_MAX less the
// "memfd:" prefix it adds.
const maxName = 255 - len("memfd:")

// LookPath finds the program name as execvp(3) does. A name containing a
// slash is used as it is. Otherwise each element of path, a colon-separated
// list, is tried in turn; an empty element (including path "" itself) is
// the current directory. Callers pass SearchPath(env) for execvp's default
// when PATH is unset.
//
// A candidate must be a regular file the caller may execute (checked with
// the effective ids, as execve does). When none qualifies, the error is an
// *Error with Op "find" that wraps EACCES if some candidate existed but was
// not executable (or not a regular file), else ENOENT.
func LookPath(name, path string) (string, error) {
	if name == "" {
		return "", &Error{"find", name, unix.ENOENT}
	}
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", &Error{"find", name, err}
		}
		return name, nil
	}
	denied := false
	for dir := range strings.SplitSeq(path, ":") {
		file := name
		if dir != "" {
			file = strings.TrimSuffix(dir, "/") + "/" + name
		}
		err := executable(file)
		if err == nil {
			return file, nil
		}
		if errors.Is(err, unix.EACCES) {
			denied = true
		}
	}
	if denied {
		return "", &Error{"find", name, unix.EACCES}
	}
	return "", &Error{"find", name, unix.ENOENT}
}

// executable reports why file cannot be executed, or nil.
func executable(file string) error {
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return unix.EACCES // what execve says about directories, devices, FIFOs
	}
	return unix.Faccessat(unix.AT_FDCWD, file, unix.X_OK, unix.AT_EACCESS)
}

// Open returns a sealed memfd holding a copy of the regular file at path,
// named after path (see Copy). The memfd is close-on-exec unless the file
// is a "#!" script (see the package documentation).
//
// Errors are *Error: Op "open" when path cannot be read or is not a regular
// file, else those of Copy.
func Open(path string) (*os.File, error) {
	// O_NONBLOCK: a FIFO swapped in after LookPath must not block the open;
	// it is refused below.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &Error{"open", path, err}
	}
	src := os.NewFile(uintptr(fd), path)
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &Error{"open", path, err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &Error{"open", path, unix.EACCES}
	}
	var head [2]byte
	n, _ := unix.Pread(fd, head[:], 0)
	f, err := Copy(src, path)
	if err != nil {
		return nil, err
	}
	if n == 2 && string(head[:]) == "#!" {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
			f.Close()
			return nil, &Error{"open", path, err}
		}
	}
	return f, nil
}

// Copy returns a sealed, close-on-exec memfd holding the contents of src,
// a regular file, from offset 0 to its size when Copy is called; src's own
// offset is not used or moved. The memfd is named name (truncated from the
// left to the kernel's 249 bytes), which /proc/PID/exe of a process run
// from it shows as "/memfd:NAME (deleted)".
//
// The memfd is created with MFD_EXEC, so that it stays executable under
// vm.memfd_noexec=1; kernels before 6.3 reject the flag and get a plain
// memfd, which is executable there. It is sealed with Seals, plus
// F_SEAL_EXEC where the kernel has it.
//
// Errors are *Error with Op "memfd_create" (wrapping ErrNoExec under
// vm.memfd_noexec=2), "copy" or "seal".
func Copy(src *os.File, name string) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return nil, &Error{"copy", name, err}
	}
	if len(name) > maxName {
		name = "..." + name[len(name)-maxName+3:]
	}
	const flags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
	if err == unix.EINVAL { // before Linux 6.3; the name is short enough
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err == unix.EACCES {
		return nil, &Error{"memfd_create", name, errors.Join(ErrNoExec, err)}
	}
	if err != nil {
		return nil, &Error{"memfd_create", name, err}
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := copyFile(f, src, st.Size); err != nil {
		f.Close()
		return nil, &Error{"copy", name, err}
	}
	if err := addSeals(f); err != nil {
		f.Close()
		return nil, &Error{"seal", name, err}
	}
	return f, nil
}

// addSeals seals f against any change, with F_SEAL_EXEC when the kernel
// has it (EINVAL before Linux 6.3).
func addSeals(f *os.File) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, Seals|unix.F_SEAL_EXEC)
	if err == unix.EINVAL {
		_, err = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, Seals)
	}
	return err
}

// SealsOf returns the seals on the file f (F_GET_SEALS).
func SealsOf(f *os.File) (int, error) {
	return unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
}

// copyFile copies the first size bytes of src into dst in the kernel,
// falling back to a user-space copy where sendfile cannot be used.
func copyFile(dst, src *os.File, size int64) error {
	var off int64
	for off < size {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(min(size-off, 1<<30)))
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil && off == 0:
			// A file system without splice support: copy by hand.
			_, err = io.Copy(dst, io.NewSectionReader(src, 0, size))
			return err
		case err != nil:
			return err
		case n == 0:
			return io.ErrUnexpectedEOF // the file shrank while we copied it
		}
	}
	return nil
}

// Exec replaces the process with the program in f, with execveat(f, "",
// argv, env, AT_EMPTY_PATH): argv[0] is passed as given and no /proc is
// needed (except by "#!" scripts, see the package documentation). It
// returns only on failure, with an *Error of Op "exec".
//
// Like syscall.Exec, Exec first gives RLIMIT_NOFILE back the soft limit
// the process started with (the Go runtime raises it at start-up), and
// keeps the runtime from creating threads while the exec runs.
//
// Preconditions: f is a file Copy or Open returned, or any descriptor of an
// executable file. The whole process is replaced, whatever its other
// threads are doing.
func Exec(f *os.File, argv, env []string) error {
	name := strings.TrimPrefix(f.Name(), "memfd:")
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return &Error{"exec", name, err}
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return &Error{"exec", name, err}
	}
	restoreNofile()
	empty := [1]byte{}
	runtimeBeforeExec()
	_, _, errno := unix.RawSyscall6(unix.SYS_EXECVEAT, f.Fd(),
		uintptr(unsafe.Pointer(&empty[0])),
		uintptr(unsafe.Pointer(&argvp[0])),
		uintptr(unsafe.Pointer(&envp[0])),
		unix.AT_EMPTY_PATH, 0)
	runtimeAfterExec()
	runtime.KeepAlive(f)
	runtime.KeepAlive(argvp)
	runtime.KeepAlive(envp)
	return &Error{"exec", name, errno}
}

// restoreNofile gives RLIMIT_NOFILE back the soft limit this process
// started with. The Go runtime raises it to the hard limit at start-up and
// keeps the original only privately, for syscall.Exec, which restores it
// before calling execve and leaves it restored when execve fails. An exec
// of the empty path fails at once (ENOENT) and changes nothing else.
// Without this, the program would start with the raised limit, unlike
// under execvp; programs that use select(2) break on descriptors >= 1024.
func restoreNofile() {
	_ = syscall.Exec("", nil, nil)
}

// runtimeBeforeExec and runtimeAfterExec are the hooks syscall.Exec calls
// around execve: they stop the runtime from creating threads meanwhile
// (go.dev/issue/19546).
//
//go:linkname runtimeBeforeExec syscall.runtime_BeforeExec
func runtimeBeforeExec()

//go:linkname runtimeAfterExec syscall.runtime_AfterExec
func runtimeAfterExec()

// Run finds argv[0] on SearchPath(env) (LookPath), copies it into a sealed
// memfd (Open) and executes it with argv and env (Exec). It returns only on
// failure; ExitCode maps the error to a shell's status.
func Run(argv, env []string) error {
	if len(argv) == 0 {
		return &Error{"find", "", unix.ENOENT}
	}
	file, err := LookPath(argv[0], SearchPath(env))
	if err != nil {
		return err
	}
	f, err := Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return Exec(f, argv, env)
}
