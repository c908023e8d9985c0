package seccomp

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated sections of docs/seccomp.md")

const docsPath = "../../docs/seccomp.md"

// generatedSections renders the parts of docs/seccomp.md that must match
// the code: the group definitions, the default policy and the families.
func generatedSections() map[string]string {
	var g strings.Builder
	g.WriteString("| group | members (nested groups expand in place) | calls on x86_64 / aarch64 |\n| --- | --- | --- |\n")
	x86, arm := archs()["x86_64"], archs()["aarch64"]
	for _, name := range GroupNames() {
		members := make([]string, len(groupDefs()[name]))
		for i, m := range groupDefs()[name] {
			members[i] = "`" + m + "`"
		}
		all, _ := expandName(name)
		nx, na := 0, 0
		for _, c := range all {
			if _, ok := x86.nrs[c]; ok {
				nx++
			}
			if _, ok := arm.nrs[c]; ok {
				na++
			}
		}
		fmt.Fprintf(&g, "| `%s` | %s | %d / %d |\n", name, strings.Join(members, " "), nx, na)
	}
	fams := make([]string, 0, len(addressFamilies()))
	for f := range addressFamilies() {
		fams = append(fams, f)
	}
	slices.SortFunc(fams, func(a, b string) int {
		if d := int(addressFamilies()[a]) - int(addressFamilies()[b]); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var f strings.Builder
	for i, name := range fams {
		if i > 0 {
			f.WriteString(", ")
		}
		fmt.Fprintf(&f, "`%s` (%d)", name, addressFamilies()[name])
	}
	f.WriteString("\n")
	return map[string]string{
		"groups":   g.String(),
		"default":  "```\n" + DefaultText(DefaultOptions{}) + "```\n",
		"families": f.String(),
	}
}

// TestDocsMatchCode keeps docs/seccomp.md's group table, default policy and
// family list in step with the code. Run with -update to regenerate them.
func TestDocsMatchCode(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for name, want := range generatedSections() {
		begin := "<!-- BEGIN GENERATED " + name + " -->\n"
		end := "<!-- END GENERATED " + name + " -->"
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Errorf("docs/seccomp.md lacks the %q markers", name)
			continue
		}
		if got := doc[i+len(begin) : j]; got != want {
			if *updateDocs {
				doc = doc[:i+len(begin)] + want + doc[j:]
				continue
			}
			t.Errorf("docs/seccomp.md section %q is stale; run go test ./internal/seccomp -run Docs -update", name)
		}
	}
	if *updateDocs {
		if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDocsExamplesParse parses every ```policy block in docs/seccomp.md.
func TestDocsExamplesParse(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```policy\n")
	if len(blocks) < 2 {
		t.Fatal("no ```policy examples in docs/seccomp.md")
	}
	for i, blk := range blocks[1:] {
		text, _, _ := strings.Cut(blk, "```")
		p, err := Parse(text)
		if err != nil {
			t.Errorf("example %d: %v\n%s", i+1, err, text)
			continue
		}
		for _, arch := range testArchs {
			if _, err := p.Compile(arch); err != nil {
				t.Errorf("example %d on %s: %v", i+1, arch, err)
			}
		}
	}
}
