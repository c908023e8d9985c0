package spec

// MountType names a filesystem operation. The spelling matches the `cove run`
// flag that produces it.
type MountType string

// The filesystem operations, applied in order inside the new root.
const (
	// Bind mounts host path Src read-write at Dst.
	Bind MountType = "bind"
	// ROBind mounts host path Src read-only (and nosuid, nodev) at Dst,
	// recursively.
	ROBind MountType = "ro-bind"
	// DevBind is Bind that keeps device access (no nodev).
	DevBind MountType = "dev-bind"
	// Mirror reproduces host path Src at Dst: a symlink is recreated as the same
	// symlink, a directory is bound read-only, a missing path is skipped. The
	// default profile uses it for /bin, /sbin, /lib* so that merged-/usr and
	// split layouts both work.
	Mirror MountType = "mirror"
	// Tmpfs mounts an empty tmpfs (mode Mode, default 0755; size Size bytes).
	Tmpfs MountType = "tmpfs"
	// Proc mounts a new procfs for the sandbox's PID namespace.
	Proc MountType = "proc"
	// Dev builds a minimal /dev: null zero full random urandom tty, devpts with
	// its own ptmx, shm, and the fd/stdin/stdout/stderr links.
	Dev MountType = "dev"
	// Dir creates a directory (mode Mode, default 0755).
	Dir MountType = "dir"
	// Symlink creates a symbolic link at Dst pointing to Src.
	Symlink MountType = "symlink"
	// File creates a regular file at Dst holding Data (mode Mode, default 0644).
	File MountType = "file"
	// RemountRO makes the mount at Dst read-only, recursively.
	RemountRO MountType = "remount-ro"
	// Sysfs mounts a read-only sysfs (it shows the sandbox's network
	// namespace; needs a new one).
	Sysfs MountType = "sysfs"
	// Cgroup2 mounts the cgroup2 hierarchy as seen from the sandbox's cgroup
	// namespace.
	Cgroup2 MountType = "cgroup2"
)

// Mount is one filesystem operation.
//
// Dst is an absolute path inside the sandbox; a leading "~" stands for the
// caller's home directory. Src is a host path for the bind types (also with "~"),
// and the link target for Symlink.
type Mount struct {
	Type MountType `json:"type" toml:"type"`
	Src  string    `json:"src,omitempty" toml:"src"`
	Dst  string    `json:"dst" toml:"dst"`
	// Optional skips a bind whose source does not exist, or a sysfs or
	// cgroup2 mount the kernel refuses, instead of failing.
	Optional bool `json:"optional,omitempty" toml:"optional"`
	// Mode is the permission bits for Tmpfs, Dir and File (0 = the default).
	Mode uint32 `json:"mode,omitempty" toml:"mode"`
	// Size limits a Tmpfs, in bytes (0 = the kernel default, half of RAM).
	Size uint64 `json:"size,omitempty" toml:"size"`
	// Data is the content of a File.
	Data string `json:"data,omitempty" toml:"data"`
}

// takesSource reports whether the type reads its Src field.
func (t MountType) takesSource() bool {
	switch t {
	case Bind, ROBind, DevBind, Mirror, Symlink:
		return true
	}
	return false
}

func (t MountType) known() bool {
	switch t {
	case Bind, ROBind, DevBind, Mirror, Tmpfs, Proc, Dev, Dir, Symlink, File, RemountRO, Sysfs, Cgroup2:
		return true
	}
	return false
}
