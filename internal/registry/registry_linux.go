package registry

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxRecord bounds what is read from a record file.
const maxRecord = 64 << 10

// errStale is wrapped when a record no longer names a live process of the
// container: the process is gone, its pid was reused, or its namespaces
// differ.
var errStale = errors.New("stale record")

// errBad is wrapped when a record file cannot be used at all (unparsable,
// not a regular file of ours).
var errBad = errors.New("unusable record")

// Dir is an open registry directory.
type Dir struct {
	path string
	fd   int
	uid  int
	// mu makes the flock on fd, which is per open file, exclusive between
	// goroutines as well.
	mu sync.Mutex
}

// Open opens the caller's registry directory (see the package comment for
// where it is), creating it if needed.
func Open() (*Dir, error) {
	b, err := runtimeBase()
	if err != nil {
		return nil, err
	}
	return openIn(b)
}

// baseKind is what a registry's parent directory must look like.
type baseKind int

const (
	private baseKind = iota // the caller's own, mode 0700 (XDG_RUNTIME_DIR)
	rootRun                 // root's, not writable by others (/run)
	sticky                  // world-writable with the sticky bit (/tmp)
)

// base is where a registry directory lives: the parent directory, the
// registry's name in it, how to name the parent in messages, and what the
// parent must look like.
type base struct {
	dir, name, what string
	kind            baseKind
}

// runtimeBase returns where the caller's registry lives: XDG_RUNTIME_DIR,
// else /run for root, else /run/user/UID, else /tmp/cove-UID (as tmux does
// when there is no login session, e.g. under su or in a container).
func runtimeBase() (base, error) {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		if !filepath.IsAbs(x) {
			return base{}, fmt.Errorf("XDG_RUNTIME_DIR %q is not an absolute path", x)
		}
		return base{x, "cove", "XDG_RUNTIME_DIR " + x, private}, nil
	}
	uid := os.Geteuid()
	if uid == 0 {
		return base{"/run", "cove", "/run", rootRun}, nil
	}
	dir := "/run/user/" + strconv.Itoa(uid)
	if _, err := os.Stat(dir); err == nil {
		return base{dir, "cove", "runtime directory " + dir, private}, nil
	}
	return base{"/tmp", "cove-" + strconv.Itoa(uid), "/tmp (XDG_RUNTIME_DIR is not set and " + dir + " does not exist)", sticky}, nil
}

// openIn opens (creating it) the registry directory b.name in b.dir, after
// checking b.dir (see baseKind). The registry directory itself must be the
// caller's own with mode 0700 and not a symlink.
func openIn(b base) (*Dir, error) {
	uid := os.Geteuid()
	bfd, err := unix.Open(b.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.what, err)
	}
	defer unix.Close(bfd)
	var st unix.Stat_t
	if err := unix.Fstat(bfd, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", b.what, err)
	}
	switch {
	case b.kind == private && (int(st.Uid) != uid || st.Mode&0o077 != 0):
		return nil, fmt.Errorf("%s belongs to uid %d with mode %04o; it must be your own (uid %d) with mode 0700", b.what, st.Uid, st.Mode&0o7777, uid)
	case b.kind == rootRun && (st.Uid != 0 || st.Mode&0o022 != 0):
		return nil, fmt.Errorf("%s belongs to uid %d with mode %04o; it must be root's and not writable by others", b.what, st.Uid, st.Mode&0o7777)
	case b.kind == sticky && st.Mode&0o1000 == 0 && (st.Uid != 0 || st.Mode&0o022 != 0):
		return nil, fmt.Errorf("%s is writable by others without the sticky bit (mode %04o): set XDG_RUNTIME_DIR to a directory of yours with mode 0700", b.what, st.Mode&0o7777)
	}
	path := filepath.Join(b.dir, b.name)
	if err := unix.Mkdirat(bfd, b.name, 0o700); err != nil && err != unix.EEXIST {
		return nil, fmt.Errorf("create registry directory %s: %w", path, err)
	}
	fd, err := unix.Openat(bfd, b.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ELOOP || err == unix.ENOTDIR {
		return nil, fmt.Errorf("registry directory %s is a symlink or not a directory: refusing it (remove it and retry)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry directory %s: %w", path, err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("registry directory %s: %w", path, err)
	}
	if int(st.Uid) != uid || st.Mode&0o077 != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("registry directory %s belongs to uid %d with mode %04o, not to you (uid %d) with mode 0700: refusing to trust it", path, st.Uid, st.Mode&0o7777, uid)
	}
	return &Dir{path: path, fd: fd, uid: uid}, nil
}

// Path returns the directory's path, for messages.
func (d *Dir) Path() string { return d.path }

// Close closes the directory.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// lock takes the directory's lock; the returned function releases it.
func (d *Dir) lock() (func(), error) {
	d.mu.Lock()
	var err error
	for {
		if err = unix.Flock(d.fd, unix.LOCK_EX); err != unix.EINTR {
			break
		}
	}
	if err != nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("lock %s: %w", d.path, err)
	}
	return func() {
		unix.Flock(d.fd, unix.LOCK_UN)
		d.mu.Unlock()
	}, nil
}

// Describe returns the record of a container named name whose program is
// the live process program (init is its init, or 0), registered by the
// caller, supervised by the calling process. Rootfs and Profile are left
// for the caller to fill. A program that has already exited is ErrGone.
func Describe(name string, program, init int) (*Record, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	id, pidfd, err := probe(program, nil)
	if errors.Is(err, errStale) {
		return nil, fmt.Errorf("process %d: %w", program, ErrGone)
	}
	if err != nil {
		return nil, err
	}
	unix.Close(pidfd)
	return &Record{Name: name, Program: id, Init: init, Supervisor: os.Getpid(), UID: os.Geteuid(), Created: time.Now()}, nil
}

// Check returns an *InUseError if a live container holds name, and
// deletes a stale record of that name.
func (d *Dir) Check(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	unlock, err := d.lock()
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := d.read(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err == nil {
		var pidfd int
		if pidfd, err = verify(rec); err == nil {
			unix.Close(pidfd)
			return &InUseError{Name: name, PID: rec.Program.PID}
		}
	}
	if isPrunable(err) {
		return d.unlink(name)
	}
	return err
}

// Register records rec, unless a live container other than rec's holds
// its name (*InUseError). A stale record of that name is replaced.
func (d *Dir) Register(rec *Record) error {
	if err := ValidateName(rec.Name); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record %s: %w", rec.Name, err)
	}
	unlock, err := d.lock()
	if err != nil {
		return err
	}
	defer unlock()
	old, err := d.read(rec.Name)
	if err == nil && !sameProcess(old.Program, rec.Program) {
		var pidfd int
		if pidfd, err = verify(old); err == nil {
			unix.Close(pidfd)
			return &InUseError{Name: rec.Name, PID: old.Program.PID}
		}
	}
	if err != nil && !errors.Is(err, ErrNotFound) && !isPrunable(err) {
		return err
	}
	return d.write(rec.Name, append(b, '\n'))
}

// Remove deletes rec's entry if the name still belongs to rec's program
// (a later container may have taken over a name whose record was stale).
func (d *Dir) Remove(rec *Record) error {
	unlock, err := d.lock()
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := d.read(rec.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err == nil && !sameProcess(cur.Program, rec.Program):
		return nil
	}
	return d.unlink(rec.Name)
}

// Container is a live named container found by Lookup. It holds a pidfd of
// the container's program: while Alive reports true, Program.PID names the
// process Lookup checked.
type Container struct {
	Record
	pidfd int
}

// Alive reports whether the container's program is still running.
func (c *Container) Alive() bool { return !exited(c.pidfd) }

// Close releases the pidfd.
func (c *Container) Close() error {
	if c.pidfd < 0 {
		return nil
	}
	err := unix.Close(c.pidfd)
	c.pidfd = -1
	return err
}

// Lookup finds the live container named name. A stale record is deleted
// and reported as ErrNotFound; a record naming a process the caller does
// not own is deleted and reported as ErrNotYours.
func (d *Dir) Lookup(name string) (*Container, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	unlock, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := d.read(name)
	if err == nil {
		var pidfd int
		if pidfd, err = verify(rec); err == nil {
			return &Container{Record: *rec, pidfd: pidfd}, nil
		}
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("no container named %s: %w", name, ErrNotFound)
	case errors.Is(err, ErrNotYours):
		d.unlink(name)
		return nil, fmt.Errorf("container %s (pid %d) %w: %v", name, rec.Program.PID, ErrNotYours, err)
	case isPrunable(err):
		if uerr := d.unlink(name); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("no container named %s: %w (its record was stale: %v)", name, ErrNotFound, err)
	}
	return nil, err
}

// List returns the live containers, sorted by name, and deletes stale
// records and temporary files left by an interrupted write.
func (d *Dir) List() ([]Record, error) {
	unlock, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.path, err)
	}
	f := os.NewFile(uintptr(fd), d.path)
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.path, err)
	}
	var live []Record
	for _, n := range names {
		if strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") {
			// Writes happen under the lock we hold: this one was interrupted.
			if err := unix.Unlinkat(d.fd, n, 0); err != nil && err != unix.ENOENT {
				return nil, fmt.Errorf("remove %s: %w", filepath.Join(d.path, n), err)
			}
			continue
		}
		name, ok := strings.CutSuffix(n, ".json")
		if !ok || ValidateName(name) != nil {
			continue // not ours
		}
		rec, err := d.read(name)
		if err == nil {
			var pidfd int
			if pidfd, err = verify(rec); err == nil {
				unix.Close(pidfd)
				live = append(live, *rec)
				continue
			}
		}
		if errors.Is(err, ErrNotFound) {
			continue // removed since readdir
		}
		if !isPrunable(err) {
			return nil, err
		}
		if err := d.unlink(name); err != nil {
			return nil, err
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Name < live[j].Name })
	return live, nil
}

// notYours is an error that is ErrNotYours and says why.
type notYours string

func (e notYours) Error() string        { return string(e) }
func (e notYours) Is(target error) bool { return target == ErrNotYours }

// isPrunable tells whether err means the record should be deleted.
func isPrunable(err error) bool {
	return errors.Is(err, errStale) || errors.Is(err, errBad) || errors.Is(err, ErrNotYours)
}

func sameProcess(a, b Identity) bool {
	return a.PID == b.PID && a.StartTime == b.StartTime
}

// read reads name's record: ErrNotFound if there is none, errBad if the
// file is not a regular file of the caller's holding a record of that name.
func (d *Dir) read(name string) (*Record, error) {
	file := filepath.Join(d.path, name+".json")
	fd, err := unix.Openat(d.fd, name+".json", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ENOENT:
		return nil, ErrNotFound
	case err == unix.ELOOP:
		return nil, fmt.Errorf("%s is a symlink: %w", file, errBad)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	f := os.NewFile(uintptr(fd), file)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", file, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != d.uid {
		return nil, fmt.Errorf("%s is not a regular file of yours: %w", file, errBad)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var rec Record
	if len(b) > maxRecord {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", file, maxRecord, errBad)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", file, err, errBad)
	}
	if rec.Name != name || rec.UID != d.uid || rec.Program.PID <= 0 {
		return nil, fmt.Errorf("%s does not hold a record of %s registered by uid %d: %w", file, name, d.uid, errBad)
	}
	return &rec, nil
}

// write replaces name's record with b: a new file under a temporary name,
// renamed over the old one.
//
// Preconditions: the directory lock is held.
func (d *Dir) write(name string, b []byte) error {
	// getrandom, not crypto/rand: that package's initialisation is a cost
	// every cove start would pay (see docs/bench.md).
	var r [6]byte
	if _, err := unix.Getrandom(r[:], 0); err != nil {
		return fmt.Errorf("name a temporary file: %w", err)
	}
	tmp := "." + name + ".tmp-" + hex.EncodeToString(r[:])
	fd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Join(d.path, tmp), err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(d.fd, tmp, d.fd, name+".json")
	}
	if err != nil {
		unix.Unlinkat(d.fd, tmp, 0)
		return fmt.Errorf("write %s: %w", filepath.Join(d.path, name+".json"), err)
	}
	return nil
}

func (d *Dir) unlink(name string) error {
	if err := unix.Unlinkat(d.fd, name+".json", 0); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", filepath.Join(d.path, name+".json"), err)
	}
	return nil
}

// verify checks that rec's program is alive and is the process rec names,
// and returns a pidfd of it.
func verify(rec *Record) (int, error) {
	_, pidfd, err := probe(rec.Program.PID, &rec.Program)
	return pidfd, err
}

// probe reads the identity of process pid through a pidfd and returns
// both. With want, it stops at the first difference (errStale). The
// process's user namespace must be owned by the caller (ErrNotYours).
//
// Postconditions: on success the process was alive after every read, so
// every fact read belongs to the process the pidfd refers to.
func probe(pid int, want *Identity) (Identity, int, error) {
	id := Identity{PID: pid}
	if pid <= 0 {
		return id, -1, fmt.Errorf("%d is not a process id: %w", pid, errStale)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	switch {
	case err == unix.ESRCH:
		return id, -1, fmt.Errorf("process %d is gone: %w", pid, errStale)
	case err == unix.ENOSYS:
		return id, -1, errors.New("pidfd_open is not available (cove needs Linux 5.3 or later to name containers)")
	case err != nil:
		return id, -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(pidfd)
		}
	}()
	dir := "/proc/" + strconv.Itoa(pid)
	if id.StartTime, err = startTime(dir + "/stat"); err != nil {
		return id, -1, fmt.Errorf("process %d: %w", pid, err)
	}
	if want != nil && id.StartTime != want.StartTime {
		return id, -1, fmt.Errorf("pid %d now belongs to another process (started at tick %d, not %d): %w", pid, id.StartTime, want.StartTime, errStale)
	}
	nsErr := func(ns string, err error) error {
		if err == unix.EACCES || err == unix.EPERM {
			return notYours(fmt.Sprintf("you may not inspect the %s namespace of process %d", ns, pid))
		}
		return fmt.Errorf("%s namespace of process %d: %v: %w", ns, pid, err, errStale)
	}
	// The user namespace is opened, not just stat'ed: its owner is checked
	// on the same object.
	ufd, err := unix.Open(dir+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return id, -1, nsErr("user", err)
	}
	var st unix.Stat_t
	err = unix.Fstat(ufd, &st)
	owner, oerr := unix.IoctlGetUint32(ufd, unix.NS_GET_OWNER_UID)
	unix.Close(ufd)
	if err != nil {
		return id, -1, nsErr("user", err)
	}
	id.UserNS = NSID{Dev: st.Dev, Ino: st.Ino}
	for _, n := range []struct {
		name string
		id   *NSID
	}{{"pid", &id.PIDNS}, {"mnt", &id.MntNS}} {
		if err := unix.Stat(dir+"/ns/"+n.name, &st); err != nil {
			return id, -1, nsErr(n.name, err)
		}
		*n.id = NSID{Dev: st.Dev, Ino: st.Ino}
	}
	if want != nil && (id.PIDNS != want.PIDNS || id.UserNS != want.UserNS || id.MntNS != want.MntNS) {
		return id, -1, fmt.Errorf("process %d is not in the recorded namespaces: %w", pid, errStale)
	}
	if oerr != nil {
		return id, -1, fmt.Errorf("owner of the user namespace of process %d: %w", pid, oerr)
	}
	if uid := os.Geteuid(); int(owner) != uid {
		return id, -1, notYours(fmt.Sprintf("process %d runs in a user namespace owned by uid %d", pid, owner))
	}
	if exited(pidfd) {
		return id, -1, fmt.Errorf("process %d is gone: %w", pid, errStale)
	}
	ok = true
	return id, pidfd, nil
}

// startTime reads field 22 of a /proc/PID/stat file. The command name
// (field 2) may hold spaces and parentheses: fields are counted after the
// last ')'.
func startTime(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("gone: %w", errStale)
		}
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", file)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("%s: only %d fields", file, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// exited reports whether the process of pidfd has exited (a zombie
// included): a pidfd polls readable then.
func exited(pidfd int) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}
