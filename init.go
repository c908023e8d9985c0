package cove

import (
	"github.com/covebox/cove/internal/stage"
	"github.com/covebox/cove/spec"
)

func init() {
	// Run stage 1 if this process is one (it never returns then).
	//
	// The main goroutine is not pinned to the main thread: nothing in this
	// process changes per-thread state (every such change happens in a
	// child of the launcher, or in stage 1, which pins itself), the sandbox
	// init follows the process rather than a thread (see launch.Sandbox),
	// and a program started without an init is forked from a thread held
	// for its lifetime (startPlain). A pinned main goroutine costs every
	// caller a thread hand-off each time it blocks.
	stage.Dispatch()
}

func specOf(c *Cmd) *spec.Spec {
	if c.Spec == nil {
		return spec.Default()
	}
	return c.Spec
}
