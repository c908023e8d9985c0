package main

import (
	"fmt"
	"io"
	"strings"
)

// option is one command-line option. Options take a fixed number of
// arguments, so that bwrap-style pairs (--bind SRC DST) parse naturally; a
// one-argument option may also be written --name=value.
type option struct {
	name  string
	args  []string // argument names, for --help
	help  string
	apply func(vals []string) error
}

// optionSet parses options until the first non-option or "--".
type optionSet struct {
	cmd     string
	usage   string
	options []option
	trailer string
}

// errHelp is returned by parse when --help was given.
var errHelp = fmt.Errorf("help requested")

func (s *optionSet) lookup(name string) *option {
	for i := range s.options {
		if s.options[i].name == name {
			return &s.options[i]
		}
	}
	return nil
}

// parse applies the options in order and returns the remaining arguments.
func (s *optionSet) parse(args []string) ([]string, error) {
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return args[1:], nil
		}
		if a == "-h" || a == "--help" {
			return nil, errHelp
		}
		if !strings.HasPrefix(a, "--") || a == "-" {
			if strings.HasPrefix(a, "-") && a != "-" {
				return nil, fmt.Errorf("unknown option %s", a)
			}
			return args, nil
		}
		name, inline, hasInline := strings.Cut(a[2:], "=")
		o := s.lookup(name)
		if o == nil {
			return nil, fmt.Errorf("unknown option --%s (see '%s --help')", name, s.cmd)
		}
		args = args[1:]
		var vals []string
		switch {
		case hasInline && len(o.args) == 1:
			vals = []string{inline}
		case hasInline:
			return nil, fmt.Errorf("--%s takes %d arguments, not --%s=VALUE", name, len(o.args), name)
		default:
			if len(args) < len(o.args) {
				return nil, fmt.Errorf("--%s needs %s", name, strings.Join(o.args, " "))
			}
			vals, args = args[:len(o.args)], args[len(o.args):]
		}
		if err := o.apply(vals); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
	}
	return nil, nil
}

func (s *optionSet) help(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nOptions:\n", s.usage)
	for _, o := range s.options {
		left := "--" + o.name
		if len(o.args) > 0 {
			left += " " + strings.Join(o.args, " ")
		}
		lines := strings.Split(o.help, "\n")
		if len(left) > 26 {
			fmt.Fprintf(w, "  %s\n  %-26s %s\n", left, "", lines[0])
		} else {
			fmt.Fprintf(w, "  %-26s %s\n", left, lines[0])
		}
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "  %-26s %s\n", "", l)
		}
	}
	if s.trailer != "" {
		fmt.Fprintf(w, "\n%s", s.trailer)
	}
}
