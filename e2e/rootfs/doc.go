// Package rootfs builds root filesystem trees for cove's tests: a minimal
// Debian made with debootstrap from the mirror apt is configured with, or a
// busybox tree when debootstrap is missing or cannot reach the mirror.
//
// Trees are built once per machine and cached outside the repository, in
// $COVE_TEST_CACHE, or /var/cache/cove-test for root, or
// $XDG_CACHE_HOME/cove-test (~/.cache/cove-test) for other users. A lock
// file next to each tree serialises builders, so test packages running in
// parallel build it once between them. A tree is built in a temporary
// directory and renamed into place, so a half-built tree is never used;
// delete the directory to rebuild it.
//
// The trees are shared and must be treated as read-only: a test that
// writes into a root filesystem copies it first (cp -a).
//
// Building needs, on a Debian CI host: debootstrap (with its recommended
// arch-test), debian-archive-keyring, and busybox-static for the fallback;
// ca-certificates when the mirror is https.
package rootfs
