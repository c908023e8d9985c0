package chain

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const installLinksUsage = "usage: cove install-links [--force] DIR"

// InstallLinksMain implements `cove install-links [--force] DIR`; args excludes "cove" and
// "install-links". It creates DIR/NAME -> cove's own executable for every personality in Names(),
// then for each name in more (drop-in names that cove's command dispatches itself, such as dive).
// An existing file of that name is left alone (and reported, exit 1) unless --force replaces it;
// a link that already points at cove is fine. Exit status: 0 all links in place, 1 some name was
// taken, 125 bad usage or a failure to create a link.
func InstallLinksMain(args []string, more ...string) int {
	force, dir := false, ""
	for _, a := range args {
		switch {
		case a == "--force" || a == "-f":
			force = true
		case a == "-h" || a == "--help":
			fmt.Println(installLinksUsage)
			return 0
		case len(a) > 1 && a[0] == '-':
			fmt.Fprintf(os.Stderr, "cove install-links: unknown option %s\n%s\n", a, installLinksUsage)
			return 125
		case dir != "":
			fmt.Fprintf(os.Stderr, "cove install-links: one DIR only\n%s\n", installLinksUsage)
			return 125
		default:
			dir = a
		}
	}
	if dir == "" {
		fmt.Fprintln(os.Stderr, installLinksUsage)
		return 125
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cove install-links: find cove's own executable: %v\n", err)
		return 125
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		fmt.Fprintf(os.Stderr, "cove install-links: resolve cove's own executable: %v\n", err)
		return 125
	}
	status := 0
	for _, name := range append(Names(), more...) {
		taken, err := installLink(self, filepath.Join(dir, name), force)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "cove install-links: %v\n", err)
			return 125
		case taken:
			fmt.Fprintf(os.Stderr, "cove install-links: %s exists and is not cove (use --force to replace it)\n", filepath.Join(dir, name))
			status = 1
		}
	}
	return status
}

// installLink makes link a symlink to target. It reports taken when link exists as something
// else and force is not set.
func installLink(target, link string, force bool) (taken bool, err error) {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return false, nil
	}
	if _, err := os.Lstat(link); err == nil {
		if !force {
			return true, nil
		}
		if err := os.Remove(link); err != nil {
			return false, fmt.Errorf("replace %s: %w", link, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("inspect %s: %w", link, err)
	}
	if err := os.Symlink(target, link); err != nil {
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	return false, nil
}
