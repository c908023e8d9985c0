//go:build !linux

package stage

// Dispatch does nothing outside Linux: there is no stage 1 to run.
func Dispatch() {}
