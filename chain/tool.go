package chain

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// tool prints one personality's messages, prefixed with the original tool's name, and turns them
// into the exit status the original uses. The name is fixed per personality (the originals
// hard-code theirs), not taken from argv[0].
type tool struct {
	name   string
	stderr io.Writer
}

func newTool(name string) tool { return tool{name: name, stderr: os.Stderr} }

// say prints "name: msg".
func (t tool) say(msg string) { fmt.Fprintf(t.stderr, "%s: %s\n", t.name, msg) }

// fail prints "name: msg" and returns code.
func (t tool) fail(code int, msg string) int {
	t.say(msg)
	return code
}

// stepError names the step that failed ("setuid 1000", "getrlimit") around the underlying error,
// so a personality can word the step as its original does and cove exec can print it as is.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func stepErr(step string, err error) error { return &stepError{step: step, err: err} }

// stepOf returns the step an error from stepErr names, or "".
func stepOf(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.step
	}
	return ""
}
