package stage

// Msg is one message from stage 1 to stage 0 on the control socket.
type Msg struct {
	// Type is "started", "error" or "exit".
	Type string `json:"type"`
	// Pid is the program's pid inside the sandbox ("started"); a pidfd for it
	// travels with the message.
	Pid int `json:"pid,omitempty"`
	// HostPid is the program's pid in stage 0's PID namespace, filled in
	// by Next from the message's credentials (never sent).
	HostPid int `json:"-"`
	// Code is the exit code ("exit"), or the status cove must exit with
	// ("error": 125, 126 or 127).
	Code int `json:"code"`
	// Signal is the signal that killed the program ("exit"), or 0.
	Signal int `json:"signal,omitempty"`
	// Step, Errno and Message describe an "error".
	Step    string `json:"step,omitempty"`
	Errno   int    `json:"errno,omitempty"`
	Message string `json:"message,omitempty"`
}
