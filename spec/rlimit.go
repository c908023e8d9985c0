package spec

import "sort"

// rlimitNames maps the short resource names accepted in Rlimit.Name to their
// RLIMIT_* numbers (the same on every Linux architecture cove supports).
var rlimitNames = map[string]int{
	"cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6,
	"nofile": 7, "memlock": 8, "as": 9, "locks": 10, "sigpending": 11,
	"msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
}

// RlimitResource returns the RLIMIT_* number of a short resource name.
func RlimitResource(name string) (int, bool) {
	r, ok := rlimitNames[name]
	return r, ok
}

// RlimitNames lists the accepted resource names in sorted order.
func RlimitNames() []string {
	n := make([]string, 0, len(rlimitNames))
	for k := range rlimitNames {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
