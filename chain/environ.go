package chain

import "strings"

// environ is the environment a personality will hand to the program it execs. The tools never
// touch their own process environment: they build this list and pass it to execve.
type environ []string

// get returns the first value of key.
func (e environ) get(key string) (string, bool) {
	for _, kv := range e {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// without returns e minus every entry named key.
func (e environ) without(key string) environ {
	out := e[:0:0]
	for _, kv := range e {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

// set replaces every entry named key with key=value.
func (e environ) set(key, value string) environ {
	return append(e.without(key), key+"="+value)
}

// modify applies one djb pathexec_env modification: entry is "name=value" to set or "name" to
// unset. The name is cut at the first '=', so a modification whose name itself contains '='
// ("A=B" with value "v") sets A to "B=v", as daemontools envdir does.
func (e environ) modify(entry string) environ {
	key, _, has := strings.Cut(entry, "=")
	e = e.without(key)
	if has {
		e = append(e, entry)
	}
	return e
}
