package cove

import (
	"runtime"

	"github.com/covebox/cove/internal/stage"
	"github.com/covebox/cove/spec"
)

func init() {
	// Pin the main goroutine to the main thread: the thread that starts a
	// sandbox must outlive it (PR_SET_PDEATHSIG), and the main thread never
	// exits. Then run stage 1 if this process is one.
	runtime.LockOSThread()
	stage.Dispatch()
}

func specOf(c *Cmd) *spec.Spec {
	if c.Spec == nil {
		return spec.Default()
	}
	return c.Spec
}
