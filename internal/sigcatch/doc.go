// Package sigcatch catches the signals that would end a supervisor so that
// it can pass them on to the program it runs.
//
// os/signal.Notify costs a supervisor about half a millisecond on every
// start: it creates the runtime's signal-mask thread and makes one round
// trip to it per signal, and parks another thread in signal_recv. On
// linux/amd64 this package instead installs a small assembly handler that
// writes the signal's number to a pipe (the self-pipe trick); Next reads it.
// Elsewhere it falls back to os/signal.
//
// A signal that the process ignores when Catch is called stays ignored and
// is not caught: a supervisor started under nohup, or in the background of a
// non-interactive shell, would not have died from it, and its program
// inherits the ignored disposition across execve as it would without a
// supervisor. Children forked by the Go runtime or by internal/launch get
// the default disposition for caught signals before they exec (the runtime
// resets every signal it had a handler for; the shared sandbox init starts
// with CLONE_CLEAR_SIGHAND).
//
// Catch may be called once per process: signal dispositions are
// process-wide, and the handler finds its pipe through the one package
// variable it can read without the Go runtime.
package sigcatch
