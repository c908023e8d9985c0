package mount

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/spec"
)

func TestCompile(t *testing.T) {
	dir := t.TempDir()
	os.Symlink("usr/bin", filepath.Join(dir, "bin"))
	os.Mkdir(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	p, err := Compile([]spec.Mount{
		{Type: spec.Mirror, Src: dir + "/bin", Dst: "/bin"},
		{Type: spec.Mirror, Src: dir + "/lib", Dst: "/lib"},
		{Type: spec.Mirror, Src: dir + "/missing", Dst: "/missing"},
		{Type: spec.Bind, Src: dir + "/nope", Dst: "/x", Optional: true},
		{Type: spec.ROBind, Src: dir + "/file", Dst: "~/f"},
		{Type: spec.Tmpfs, Dst: "~"},
		{Type: spec.Dir, Dst: "/d/"},
	}, "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, op := range p.Ops {
		got = append(got, string(op.Type)+" "+op.Src+" "+op.Dst)
	}
	want := []string{
		"symlink usr/bin /bin", // a symlink is mirrored as the same symlink
		"ro-bind " + dir + "/lib /lib",
		// missing mirror and optional bind are skipped
		"ro-bind " + dir + "/file /home/u/f",
		"tmpfs  /home/u",
		"dir  /d",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.Ops[2].SrcIsDir || !p.Ops[1].SrcIsDir {
		t.Fatal("SrcIsDir not set from the source")
	}
	if p.Ops[3].Mode != 0o755 || p.Ops[2].Index != 4 {
		t.Fatalf("tmpfs mode %o, index %d: defaults or indexes wrong", p.Ops[3].Mode, p.Ops[2].Index)
	}
}

func TestCompileErrors(t *testing.T) {
	_, err := Compile([]spec.Mount{{Type: spec.Tmpfs, Dst: "/t"}, {Type: spec.Bind, Src: "/no/such/path", Dst: "/x"}}, "/")
	var oe *OpError
	if !errors.As(err, &oe) || oe.Index != 1 || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want an OpError for operation 1 wrapping ENOENT", err)
	}
	if err.Error() != "bind /no/such/path on /x: no such file or directory" {
		t.Fatalf("message %q", err)
	}
	if _, err := Compile([]spec.Mount{{Type: spec.Bind, Src: "/", Dst: "/"}}, "/"); err == nil {
		t.Fatal("binding over the sandbox root itself was accepted")
	}
}

// TestProgramShape pins the security-relevant structure of the mount
// program: propagation cut first, every target resolved from the new root
// with RESOLVE_IN_ROOT, sources from the old root, and the old root detached
// last.
func TestProgramShape(t *testing.T) {
	p, err := Compile(spec.Default().Filesystem, "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	prog := p.Program("/tmp")
	if prog[0].Op != launch.OpMount || prog[0].Flags != unix.MS_REC|unix.MS_SLAVE {
		t.Fatalf("first instruction %+v, want the recursive slave remount of /", prog[0])
	}
	var detach, pivots int
	for i, in := range prog {
		switch in.Op {
		case launch.OpEnsure:
			if in.A != regNew || !strings.HasPrefix(in.S1, "/") {
				t.Errorf("insn %d resolves %q from register %d, want an absolute path from the new root", i, in.S1, in.A)
			}
		case launch.OpOpenAt2:
			if in.A != regNew && in.A != regOld {
				t.Errorf("insn %d opens %q from register %d", i, in.S1, in.A)
			}
		case launch.OpMoveMount:
			j := i - 1
			for j >= 0 && prog[j].Op != launch.OpEnsure {
				j--
			}
			if j < 0 || prog[j].R != in.R {
				t.Errorf("insn %d attaches a mount to register %d, which the last resolution did not fill", i, in.R)
			}
		case launch.OpPivotRoot:
			pivots++
		case launch.OpDetach:
			if in.S1 == "." && in.Flags == unix.MNT_DETACH {
				detach = i
			}
		case launch.OpMount:
			if i > 4 {
				t.Errorf("insn %d: path-based mount(2) after setup (%s)", i, in.What)
			}
		}
	}
	if pivots != 2 || detach == 0 || detach < len(prog)-5 {
		t.Fatalf("pivots %d, detach at %d of %d", pivots, detach, len(prog))
	}
	// Every Spec operation is accounted for in the program's indexes.
	seen := map[int]bool{}
	for _, in := range prog {
		seen[in.Index] = true
	}
	for _, op := range p.Ops {
		if !seen[op.Index] {
			t.Errorf("operation %d (%s %s) has no instruction", op.Index, op.Type, op.Dst)
		}
	}
}
