package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"nofile", "nproc", "memlock", "CAP_NET_ADMIN", "CAP_NET_RAW"}
	for _, tt := range []struct{ in, want string }{
		{"nofle", "nofile"},
		{"noproc", "nproc"},
		{"CAP_NET_ADMN", "CAP_NET_ADMIN"},
		{"memlock", "memlock"},
		{"xyzzy", ""}, // too far from everything
		{"", ""},
	} {
		if got := Closest(tt.in, names); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if d := distance("kitten", "sitting"); d != 3 {
		t.Errorf("distance(kitten, sitting) = %d, want 3", d)
	}
}
