package server

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestHostDB: lookups follow the files, a rewritten file is read again,
// and initgroups' rules hold (primary group first, each group once).
func TestHostDB(t *testing.T) {
	dir := t.TempDir()
	db := &hostDB{passwdPath: filepath.Join(dir, "passwd"), groupPath: filepath.Join(dir, "group")}
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		// Rename, as editors and useradd do: a new inode even within one
		// timestamp tick.
		if err := os.WriteFile(p+".new", []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".new", p); err != nil {
			t.Fatal(err)
		}
	}
	write("passwd", "# comment\nroot:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nalice:x:1001:1001::/:/bin/sh\nbroken:x:notanumber:1::/:/bin/sh\n")
	write("group", "root:x:0:\nwheel:x:10:alice,bob\nusers:x:100:bob\nalice:x:1000:alice\naudio:x:29:alice\n")

	if e, err := db.userByID(1000); err != nil || e.name != "alice" || e.gid != 1000 {
		t.Errorf("userByID(1000) = %+v, %v", e, err)
	}
	if e, err := db.userByName("alice"); err != nil || e.uid != 1000 {
		t.Errorf("userByName(alice) = %+v, %v; the first entry wins", e, err)
	}
	if _, err := db.userByName("broken"); err == nil {
		t.Error("an entry with a bad uid was accepted")
	}
	if _, err := db.userByID(4242); err != errNoEntry {
		t.Errorf("userByID(4242): %v, want errNoEntry", err)
	}
	if got, want := db.groupsOf("alice", 1000), []uint32{1000, 10, 29}; !slices.Equal(got, want) {
		t.Errorf("groupsOf(alice, 1000) = %v, want %v (primary first, no duplicate)", got, want)
	}
	if got := db.groupsOf("", 5); !slices.Equal(got, []uint32{5}) {
		t.Errorf("groupsOf without a name = %v", got)
	}
	if g, err := db.groupID("audio"); err != nil || g != 29 {
		t.Errorf("groupID(audio) = %d, %v", g, err)
	}

	write("group", "wheel:x:10:bob\n")
	if got := db.groupsOf("alice", 1000); !slices.Equal(got, []uint32{1000}) {
		t.Errorf("after rewriting the group file: %v, want [1000]", got)
	}
	time.Sleep(10 * time.Millisecond)
	write("passwd", "alice:x:2000:2000::/:/bin/sh\n")
	if e, err := db.userByName("alice"); err != nil || e.uid != 2000 {
		t.Errorf("after rewriting passwd: %+v, %v", e, err)
	}
	os.Remove(db.groupPath)
	if got := db.groupsOf("alice", 7); !slices.Equal(got, []uint32{7}) {
		t.Errorf("without a group file: %v, want [7]", got)
	}
}
