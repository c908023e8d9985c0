package stage

import (
	"fmt"
	"os"

	"github.com/covebox/cove/internal/seal"
)

// SealedSelf returns a memfd named "cove" holding a copy of the running
// executable, sealed against any change (F_SEAL_SEAL, SHRINK, GROW, WRITE,
// and EXEC where the kernel has it; see seal.Copy). Processes started from
// it have /proc/PID/exe pointing at the memfd, so nothing inside a sandbox
// can reach — let alone overwrite — the host binary through it
// (CVE-2019-5736).
//
// The file is close-on-exec; exec it with execveat(AT_EMPTY_PATH) or
// through its /proc/self/fd path. Under vm.memfd_noexec=2 it fails with an
// error wrapping seal.ErrNoExec.
func SealedSelf() (*os.File, error) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer exe.Close()
	f, err := seal.Copy(exe, "cove")
	if err != nil {
		return nil, fmt.Errorf("sealed copy of own executable: %w", err)
	}
	return f, nil
}
