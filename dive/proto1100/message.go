package proto1100

// Version is the protocol number dived sends first, as a C long.
const Version = 1100

// NoFD stands for an empty descriptor slot: the 'X' marker on the wire.
const NoFD = -1

// Descriptor markers: the single data byte sent in place of a descriptor.
const (
	MarkerFD   = 'F' // carries exactly one SCM_RIGHTS descriptor
	MarkerNone = 'X' // no descriptor (dive's send_fd(-1), or a failed send of the terminal)
)

// Hello is the server's greeting (steps 1–2): the version, then the pid of
// the per-connection helper. The version is implied: decoding any other value
// fails with ErrVersion and encoding always writes Version.
type Hello struct {
	// HelperPID is the helper's pid; dive kill()s it for signal forwarding
	// when remote waiting is off, so it must be > 0.
	HelperPID int32
}

// Intro is the client's first message (steps 3–4).
type Intro struct {
	// Terminal is the descriptor that should become the controlling
	// terminal (DIVE_TERMINAL, default fd 0), or NoFD.
	Terminal int
	// Wait asks the server to report the program's exit (DIVE_WAITMODE 0).
	Wait bool
}

// WaitReply is the server's answer to Intro.Wait (step 5).
type WaitReply struct {
	// Enabled is Intro.Wait unless the server runs with -w or -J. When it is
	// false the conversation ends after the Request and dive falls back to
	// "workaround waiting" (an extra pipe among its fds).
	Enabled bool
}

// PassedFD is one entry of the client's fd list.
type PassedFD struct {
	// Num is the descriptor number the program must see: 0..MaxFDNumber-1.
	Num int
	// FD is the descriptor carrying it: the sender's descriptor when
	// encoding, the received one when decoding.
	FD int
}

// Request is everything the client sends once the server has answered the
// wait flag (steps 6–11), in wire order.
type Request struct {
	// FDs are the client's open descriptors (dive sends every fd below 1024
	// except its socket, its signalfd and the workaround pipe's read end), in
	// the order sent; numbers are unique.
	FDs []PassedFD
	// Umask is the client's umask (mode_t), at most 0777.
	Umask uint32
	// Root is the client's root directory (DIVE_ROOTDIR, default "/"), or NoFD.
	Root int
	// Cwd is the client's working directory (DIVE_CURDIR, default "."), or NoFD.
	Cwd int
	// Argv is the command (dive's argv[2:]); it may be empty, in which case
	// only a forced argv on the server can run anything.
	Argv []string
	// Env is the client's environment, usually "K=V" entries; dived filters
	// DIVE_* names and adds its own.
	Env []string
}

// SignalMode is how the server relays signals the client forwards.
type SignalMode int32

const (
	// SignalsOff: the server does not relay; dive kill()s the program itself.
	SignalsOff SignalMode = 0
	// SignalsProcess: dived -n; the server signals the program's pid.
	SignalsProcess SignalMode = 1
	// SignalsGroup: dived --signals-pgid; the server signals a process group.
	SignalsGroup SignalMode = 2
)

// Started tells the client the program runs (steps 12–13, only when waiting
// is enabled). It is sent after exec succeeded or the program died.
type Started struct {
	PID        int32      // the program's pid, > 0
	SignalMode SignalMode // decides what the client sends in SignalChannel
}

// SignalChannel is the client's answer to Started (step 14): with a non-zero
// SignalMode, one end of a SOCK_DGRAM socketpair over which Siginfo
// datagrams follow; otherwise NoFD.
type SignalChannel struct {
	FD int
}

// Exit is the last message (step 15). Status is signalfd_siginfo.ssi_status
// of the program's SIGCHLD: the exit code when it exited, the signal number
// when it was killed (dive then exits with that number, not 128+N).
type Exit struct {
	Status int32 // 0..255
}
