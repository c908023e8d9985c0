//go:build !linux

package rootfs

import "testing"

// Debian skips the test: root filesystem trees are Linux-only.
func Debian(t testing.TB) string {
	t.Helper()
	t.Skip("rootfs: root filesystem trees need Linux")
	return ""
}

// Busybox skips the test: root filesystem trees are Linux-only.
func Busybox(t testing.TB) string {
	t.Helper()
	t.Skip("rootfs: root filesystem trees need Linux")
	return ""
}
