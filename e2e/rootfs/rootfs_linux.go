package rootfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Suite is the Debian release Debian builds.
const Suite = "bookworm"

// debootstrapTimeout bounds one debootstrap run; a mirror that is reachable
// delivers minbase in a few minutes.
const debootstrapTimeout = 20 * time.Minute

// failureTTL is how long a failed debootstrap is remembered: within it,
// Debian goes straight to the busybox tree instead of waiting on an
// unreachable mirror again.
const failureTTL = time.Hour

// busyboxApplets are linked in /bin of the busybox tree. The list is
// explicit so that the tree does not depend on how the host's busybox was
// configured beyond these common applets.
var busyboxApplets = []string{
	"sh", "ash", "cat", "chmod", "chown", "cp", "date", "echo", "env", "false",
	"grep", "head", "hostname", "id", "kill", "ln", "ls", "mkdir", "mount",
	"mv", "ps", "pwd", "readlink", "rm", "rmdir", "sed", "sleep", "stat",
	"tail", "test", "touch", "true", "umount", "uname", "wc", "whoami",
}

// Debian returns the path of a cached minimal Debian root filesystem
// (debootstrap --variant=minbase bookworm), building it on first use. When
// debootstrap is not installed, the caller is not root, or the mirror cannot
// be reached, it returns the busybox tree of Busybox instead and logs why;
// callers that need Debian specifically check for /etc/debian_version.
//
// The tree is shared between tests and packages: do not modify it.
func Debian(t testing.TB) string {
	t.Helper()
	cache, err := cacheDir()
	if err != nil {
		t.Fatalf("rootfs: %v", err)
	}
	dir, err := debian(cache, t.Logf)
	if err == nil {
		return dir
	}
	t.Logf("rootfs: no Debian tree, using busybox: %v", err)
	return Busybox(t)
}

// Busybox returns the path of a cached root filesystem made of the host's
// static busybox (/bin/busybox from Debian's busybox-static), with /bin
// links for common applets, /etc/passwd and /etc/group. It fails the test
// when busybox is not installed.
func Busybox(t testing.TB) string {
	t.Helper()
	cache, err := cacheDir()
	if err != nil {
		t.Fatalf("rootfs: %v", err)
	}
	dir, err := build(filepath.Join(cache, "rootfs-busybox"), buildBusybox)
	if err != nil {
		t.Fatalf("rootfs: busybox tree: %v (install busybox-static)", err)
	}
	return dir
}

// cacheDir returns the cache directory, creating it.
func cacheDir() (string, error) {
	dir := os.Getenv("COVE_TEST_CACHE")
	if dir == "" && os.Geteuid() == 0 {
		dir = "/var/cache/cove-test"
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find a cache directory: %w", err)
		}
		dir = filepath.Join(base, "cove-test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache directory: %w", err)
	}
	return dir, nil
}

// debian returns the Debian tree under cache, building it when missing.
func debian(cache string, logf func(string, ...any)) (string, error) {
	final := filepath.Join(cache, "rootfs-"+Suite)
	if complete(final) {
		return final, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("debootstrap needs root")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", errors.New("debootstrap is not installed (apt-get install debootstrap)")
	}
	failed := final + ".failed"
	if st, err := os.Stat(failed); err == nil && time.Since(st.ModTime()) < failureTTL {
		msg, _ := os.ReadFile(failed)
		return "", fmt.Errorf("debootstrap failed less than %v ago (remove %s to retry): %s", failureTTL, failed, strings.TrimSpace(string(msg)))
	}
	dir, err := build(final, func(tmp string) error {
		mirror, err := Mirror()
		if err != nil {
			return err
		}
		logf("rootfs: debootstrap --variant=minbase %s %s %s (cached for later runs)", Suite, tmp, mirror)
		ctx, cancel := context.WithTimeout(context.Background(), debootstrapTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", Suite, tmp, mirror)
		cmd.Env = debootstrapEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("debootstrap %s from %s: %w: %s", Suite, mirror, err, lastLines(out, 3))
		}
		return nil
	})
	if err != nil {
		// Remembered so the next package does not wait on the mirror again.
		os.WriteFile(failed, []byte(err.Error()+"\n"), 0o644)
		return "", err
	}
	return dir, nil
}

// debootstrapEnv is the environment for debootstrap: ours, plus apt's
// configured HTTP proxy when the environment names none (debootstrap
// downloads with wget, which reads only the environment).
func debootstrapEnv() []string {
	env := os.Environ()
	if os.Getenv("http_proxy") != "" {
		return env
	}
	out, err := exec.Command("apt-config", "dump", "--format", "%v%n", "Acquire::http::Proxy").Output()
	if p := strings.TrimSpace(string(out)); err == nil && p != "" && p != "DIRECT" && strings.Contains(p, "://") {
		env = append(env, "http_proxy="+p)
	}
	return env
}

// complete reports whether dir is a finished tree (build renames only
// finished trees into place, and a tree always has /bin/sh).
func complete(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, "bin", "sh"))
	return err == nil
}

// build makes the tree final with fill, once across processes: it takes an
// exclusive lock on final+".lock", and fills a temporary sibling directory
// that it renames to final only when fill succeeded.
func build(final string, fill func(tmp string) error) (string, error) {
	if complete(final) {
		return final, nil
	}
	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open lock file: %w", err)
	}
	defer lock.Close()
	if err := flock(lock); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	if complete(final) { // built by whoever held the lock before us
		return final, nil
	}
	// A leftover from an interrupted build (or a tree without /bin/sh).
	if err := os.RemoveAll(final); err != nil {
		return "", fmt.Errorf("remove incomplete %s: %w", final, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), filepath.Base(final)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("chmod build directory: %w", err)
	}
	if err := fill(tmp); err != nil {
		return "", err
	}
	if !complete(tmp) {
		return "", fmt.Errorf("built tree %s has no /bin/sh", tmp)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("move %s into place: %w", final, err)
	}
	return final, nil
}

func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}

// buildBusybox fills dir with the host's static busybox and its links.
func buildBusybox(dir string) error {
	src, err := exec.LookPath("busybox")
	if err != nil {
		src = "/bin/busybox"
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open busybox: %w", err)
	}
	defer in.Close()
	for _, d := range []string{"bin", "etc", "dev", "proc", "sys", "tmp", "root", "sbin", "usr/bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("busybox tree: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return fmt.Errorf("busybox tree: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(dir, "bin", "busybox"), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return fmt.Errorf("busybox tree: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return fmt.Errorf("busybox tree: %w", err)
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\nnogroup:x:65534:\n",
		"etc/hostname": "busybox\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("busybox tree: %w", err)
		}
	}
	return nil
}

// Mirror returns the Debian mirror apt is configured with: the first "deb"
// source, in /etc/apt/sources.list then /etc/apt/sources.list.d (one-line
// .list and deb822 .sources files), that is not a security or backports
// archive. Preference goes to a source listing Suite.
func Mirror() (string, error) {
	var files []string
	files = append(files, "/etc/apt/sources.list")
	for _, pat := range []string{"*.list", "*.sources"} {
		m, _ := filepath.Glob("/etc/apt/sources.list.d/" + pat)
		files = append(files, m...)
	}
	var srcs []source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if strings.HasSuffix(f, ".sources") {
			srcs = append(srcs, parseDeb822(string(data))...)
		} else {
			srcs = append(srcs, parseOneLine(string(data))...)
		}
	}
	return pickMirror(srcs)
}

// source is one apt source: a URI and the suites taken from it.
type source struct {
	uri    string
	suites []string
}

func pickMirror(srcs []source) (string, error) {
	var fallback string
	for _, s := range srcs {
		if strings.Contains(s.uri, "security") {
			continue
		}
		for _, suite := range s.suites {
			if suite == Suite {
				return s.uri, nil
			}
		}
		if fallback == "" {
			fallback = s.uri
		}
	}
	if fallback == "" {
		return "", errors.New("no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d")
	}
	return fallback, nil
}

// parseOneLine reads "deb [options] URI SUITE [COMPONENT...]" lines.
func parseOneLine(data string) []source {
	var srcs []source
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) < 2 {
			continue
		}
		srcs = append(srcs, source{uri: f[0], suites: f[1:2]})
	}
	return srcs
}

// parseDeb822 reads deb822 stanzas (Types, URIs, Suites, Enabled).
func parseDeb822(data string) []source {
	var srcs []source
	for _, stanza := range strings.Split(data, "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if ok {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !hasWord(fields["types"], "deb") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			srcs = append(srcs, source{uri: uri, suites: strings.Fields(fields["suites"])})
		}
	}
	return srcs
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
