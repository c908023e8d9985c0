package stage

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SealedSelf returns a memfd holding a copy of the running executable, sealed
// against any change (F_SEAL_SEAL, SHRINK, GROW, WRITE, and EXEC where the
// kernel has it). Processes started from it have /proc/PID/exe pointing at the
// memfd, so nothing inside a sandbox can reach — let alone overwrite — the
// host binary through it (CVE-2019-5736).
//
// The file is close-on-exec; exec it through its /proc/self/fd path.
func SealedSelf() (*os.File, error) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer exe.Close()
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	// vm.memfd_noexec may require MFD_EXEC to be explicit; kernels before 6.3
	// do not know the flag and answer EINVAL.
	fd, err := unix.MemfdCreate("cove", flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("cove", flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:cove")
	if err := copyAll(f, exe); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy own executable to memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals|unix.F_SEAL_EXEC); err != nil {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
			f.Close()
			return nil, fmt.Errorf("seal memfd: %w", err)
		}
	}
	return f, nil
}

// copyAll copies src to dst in the kernel with sendfile(2), falling back to
// a user-space copy where sendfile cannot be used.
func copyAll(dst, src *os.File) error {
	st, err := src.Stat()
	if err != nil {
		return err
	}
	if err := unix.Ftruncate(int(dst.Fd()), st.Size()); err != nil {
		return err
	}
	var off int64
	for off < st.Size() {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(st.Size()-off))
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			if off == 0 {
				_, err = io.Copy(dst, src)
				return err
			}
			return fmt.Errorf("sendfile at offset %d: %w", off, err)
		}
	}
	return nil
}
