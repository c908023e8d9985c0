package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDelegated(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(f, []byte("root:100000:65536\n# comment\n0:300000:10\nnobody:200000:0\n"), 0o644)
	got, err := Delegated(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{100000, 65536}, {300000, 10}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v (by name and by number)", got, want)
	}
	if _, err := Delegated(f, 65534); !errors.Is(err, ErrNoRanges) {
		t.Fatalf("a zero-count entry: got %v, want ErrNoRanges", err)
	}
}

func TestRootWithRanges(t *testing.T) {
	got := RootWithRanges(1000, []Range{{100000, 65536}, {300000, 10}})
	want := []Map{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}, {ContainerID: 65537, HostID: 300000, Size: 10}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestRootAllButHostRootNeverMapsHostRoot(t *testing.T) {
	for _, m := range RootAllButHostRoot() {
		if m.HostID == 0 || m.HostID+m.Size-1 > maxID {
			t.Fatalf("map %v includes host root or the invalid id", m)
		}
	}
}

func TestParseAndCheck(t *testing.T) {
	cases := []struct {
		name, in string
		err      string
	}{
		{"two ranges", "0:1000:1,1:100000:65536", ""},
		{"semicolons", "0:1000:1;1:100000:10", ""},
		{"not three fields", "0:1000", "want INSIDE:OUTSIDE:COUNT"},
		{"not a number", "0:x:1", "is not an id"},
		{"empty range", "0:1000:0", "empty range"},
		{"overlapping inside", "0:1000:2,1:5000:1", "overlap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.in)
			if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("Parse(%q) = %v, want %q", c.in, err, c.err)
			}
		})
	}
	ranges := []Range{{100000, 65536}}
	ok, _ := Parse("0:1000:1,1:100000:65536")
	if err := Check(ok, 1000, ranges, false, false); err != nil {
		t.Fatalf("delegated map refused: %v", err)
	}
	bad, _ := Parse("0:1000:1,1:2000:1")
	if err := Check(bad, 1000, ranges, false, false); !errors.Is(err, ErrNotDelegated) {
		t.Fatalf("undelegated map: %v", err)
	}
	root, _ := Parse("0:0:1")
	if err := Check(root, 0, nil, true, false); err == nil {
		t.Fatal("host root mapped without asking")
	}
	if err := Check(root, 0, nil, true, true); err != nil {
		t.Fatalf("host root with the opt-in: %v", err)
	}
}

func TestReadProcAndInside(t *testing.T) {
	f := filepath.Join(t.TempDir(), "uid_map")
	// As the kernel prints them, with a line that does not parse.
	if err := os.WriteFile(f, []byte("         0       1000          1\n         1     100000      65536\nbogus\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadProc(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []Map{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("ReadProc = %v, want %v", m, want)
	}
	for id, in := range map[int]bool{0: true, 1: true, 65536: true, 65537: false, -1: false} {
		if Inside(m, id) != in {
			t.Errorf("Inside(%d) = %v, want %v", id, !in, in)
		}
	}
	// This process's own map is readable and maps its uid.
	self, err := ReadProc("/proc/self/uid_map")
	if err != nil || !Inside(self, os.Getuid()) {
		t.Fatalf("own uid_map %v (%v) does not map uid %d", self, err, os.Getuid())
	}
	if _, err := ReadProc(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("ReadProc of a missing file: no error")
	}
}
