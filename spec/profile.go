package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// A profile file is a Spec in TOML or JSON. It starts from the built-in profile
// named by its "extends" key ("default" when absent; "none" starts from an empty
// Spec), and every key it sets replaces that key of the base: lists are replaced,
// not appended to. Unknown keys are errors.
type profileFile struct {
	Extends string `json:"extends,omitempty" toml:"extends"`
	*Spec
}

// LoadProfile resolves a --profile argument: a built-in profile name
// ("default", "minimal") or the path of a .toml or .json file. The result is
// validated.
func LoadProfile(nameOrPath string) (*Spec, error) {
	if s := Builtin(nameOrPath); s != nil {
		return s, nil
	}
	if !strings.ContainsRune(nameOrPath, '/') && filepath.Ext(nameOrPath) == "" {
		return nil, fmt.Errorf("profile %q: %w (built-in profiles: %s; a file path must contain a slash or end in .toml or .json)",
			nameOrPath, ErrNotFound, strings.Join(BuiltinNames(), ", "))
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", nameOrPath, err)
	}
	s, err := ParseProfile(data, formatOf(nameOrPath, data))
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", nameOrPath, err)
	}
	return s, nil
}

// Format is a profile file syntax.
type Format string

// The profile syntaxes.
const (
	TOML Format = "toml"
	JSON Format = "json"
)

func formatOf(name string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return JSON
	case ".toml":
		return TOML
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return JSON
	}
	return TOML
}

// ParseProfile decodes a profile in the given format onto its base profile
// and validates the result.
func ParseProfile(data []byte, f Format) (*Spec, error) {
	var head struct {
		Extends string `json:"extends" toml:"extends"`
	}
	switch f {
	case JSON:
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, jsonError(data, err)
		}
	case TOML:
		if err := toml.Unmarshal(data, &head); err != nil {
			return nil, tomlError(err)
		}
	default:
		return nil, fmt.Errorf("unknown profile format %q", f)
	}
	base := &Spec{}
	switch head.Extends {
	case "":
		base = Default()
	case "none":
	default:
		if base = Builtin(head.Extends); base == nil {
			return nil, fieldErr("extends", "unknown built-in profile %q (one of none, %s)", head.Extends, strings.Join(BuiltinNames(), ", "))
		}
	}
	// Decoders fill an existing slice element by element, merging with the
	// base's entries; a profile's list must replace the base's instead.
	var tree map[string]any
	switch f {
	case JSON:
		if err := json.Unmarshal(data, &tree); err != nil {
			return nil, jsonError(data, err)
		}
	case TOML:
		if err := toml.Unmarshal(data, &tree); err != nil {
			return nil, tomlError(err)
		}
	}
	clearListed(reflect.ValueOf(base).Elem(), tree, string(f))
	pf := profileFile{Spec: base}
	switch f {
	case JSON:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pf); err != nil {
			return nil, jsonError(data, err)
		}
	case TOML:
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pf); err != nil {
			return nil, tomlError(err)
		}
	}
	if err := base.Validate(); err != nil {
		return nil, err
	}
	return base, nil
}

// clearListed sets to nil every slice field of v that the document tree
// sets, recursing into structs. tag is the struct tag naming the keys.
func clearListed(v reflect.Value, tree map[string]any, tag string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get(tag), ",")
		sub, ok := tree[name]
		if name == "" || !ok {
			continue
		}
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Slice:
			fv.Set(reflect.Zero(fv.Type()))
		case reflect.Struct:
			if m, ok := sub.(map[string]any); ok {
				clearListed(fv, m, tag)
			}
		}
	}
}

// tomlError makes a one-line message of a TOML decoding error: the first
// unknown key, or the line of a syntax or type error.
func tomlError(err error) error {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) && len(sm.Errors) > 0 {
		keys := make([]string, len(sm.Errors))
		for i, e := range sm.Errors {
			keys[i] = strings.Join(e.Key(), ".")
		}
		sort.Strings(keys)
		return fmt.Errorf("unknown key %q", keys[0])
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return fmt.Errorf("line %d: %s", row, strings.Join(strings.Fields(de.Error()), " "))
	}
	return fmt.Errorf("%s", strings.Join(strings.Fields(err.Error()), " "))
}

func jsonError(data []byte, err error) error {
	if se, ok := err.(*json.SyntaxError); ok {
		line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
		return fmt.Errorf("line %d: %v", line, err)
	}
	// encoding/json says `json: unknown field "x"`; keep the field name only.
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if rest, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return fmt.Errorf("unknown key %s", rest)
	}
	return fmt.Errorf("%s", msg)
}
