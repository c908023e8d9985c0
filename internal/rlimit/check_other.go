//go:build !linux

package rlimit

// resources marks every name unsupported off Linux.
var resources = [len(names)]int{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

// Resolve is only supported on Linux.
func Resolve(limits []Limit) ([]Limit, error) { return nil, ErrUnsupported }

// Check is only supported on Linux.
func Check(limits []Limit, privileged bool) error { return ErrUnsupported }

// Privileged is only supported on Linux.
func Privileged() (bool, error) { return false, ErrUnsupported }
