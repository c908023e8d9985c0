package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
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
