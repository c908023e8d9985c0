//go:build !linux

package registry

import "errors"

// errUnsupported is returned by Open outside Linux: names are kernel
// identities (pidfds, namespaces) that only Linux has.
var errUnsupported = errors.New("container names need Linux")

// Dir is an open registry directory; outside Linux none can be opened.
type Dir struct{}

// Open reports that names are unsupported outside Linux.
func Open() (*Dir, error) { return nil, errUnsupported }
