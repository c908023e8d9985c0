package chain

// getopt is the option scanner shared by the djb, runit and skarnet tools (their sgetopt/subgetopt
// behave alike): options are single letters, may be bundled ("-nx"), an argument may be attached
// ("-o10") or be the next word, "--" ends the options and is consumed, "-" alone or the first word
// not starting with '-' ends them and is kept. There is no argument permutation.
type getopt struct {
	args []string // the full argv; args[0] is the program name
	ind  int      // index of the word being scanned
	pos  int      // position inside args[ind]; 0 means "at the start of a word"

	// arg is the argument of the option last returned, when it takes one.
	arg string
	// problem is the offending letter when next returns '?'.
	problem byte
	// missing is true when '?' was returned because an argument was missing (rather than an
	// unknown letter).
	missing bool
}

func newGetopt(argv []string) *getopt { return &getopt{args: argv, ind: 1} }

// next returns the next option letter, '?' for an unknown letter or a missing argument, or 0 when
// the options are over; then rest() gives the remaining words.
// opts lists the letters; a letter followed by ':' takes an argument.
func (g *getopt) next(opts string) byte {
	g.arg, g.missing = "", false
	if g.ind >= len(g.args) {
		return 0
	}
	if g.pos > 0 && g.pos >= len(g.args[g.ind]) {
		g.ind++
		g.pos = 0
		if g.ind >= len(g.args) {
			return 0
		}
	}
	if g.pos == 0 {
		w := g.args[g.ind]
		if len(w) < 2 || w[0] != '-' {
			return 0
		}
		if w == "--" {
			g.ind++
			return 0
		}
		g.pos = 1
	}
	w := g.args[g.ind]
	c := w[g.pos]
	g.pos++
	for i := 0; i < len(opts); i++ {
		if opts[i] == ':' || opts[i] != c {
			continue
		}
		if i+1 < len(opts) && opts[i+1] == ':' {
			rest := w[g.pos:]
			g.ind++
			g.pos = 0
			if rest == "" {
				if g.ind >= len(g.args) {
					g.problem, g.missing = c, true
					return '?'
				}
				rest = g.args[g.ind]
				g.ind++
			}
			g.arg = rest
		}
		return c
	}
	g.problem = c
	return '?'
}

// rest returns the words after the options.
func (g *getopt) rest() []string {
	if g.pos > 0 && g.pos >= len(g.args[g.ind]) {
		g.ind++
		g.pos = 0
	}
	if g.ind > len(g.args) {
		return nil
	}
	return g.args[g.ind:]
}

// complaint is the sentence djb's getopt prints for a '?' result ("illegal option -- z").
func (g *getopt) complaint() string {
	if g.missing {
		return "option requires an argument -- " + string(g.problem)
	}
	return "illegal option -- " + string(g.problem)
}
