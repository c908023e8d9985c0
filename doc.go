// Package cove starts programs in sandboxes: new namespaces, a fresh root
// filesystem, no capabilities, no_new_privs and a seccomp filter, with every
// process the program starts killed when it ends or when cove goes away.
//
// The API has the shape of os/exec. A [spec.Spec] describes the environment;
// [Command] pairs it with a program:
//
//	cmd := cove.Command(spec.Default(), "sh", "-c", "id; hostname")
//	out, err := cmd.Output()
//
// Non-zero exits come back as *ExitError; failures before the program
// started (a bad Spec, a missing bind source, a kernel without user
// namespaces, a command that does not exist) as *SetupError, whose Code is
// the status the cove CLI exits with (125, 126 or 127).
//
// # Streaming
//
// [Cmd.Events] starts the program and yields its output as it arrives,
// then exactly one final event:
//
//	for ev := range cove.Command(spec.Default(), "make", "test").Events() {
//		switch ev.Kind {
//		case cove.Stdout, cove.Stderr:
//			os.Stdout.Write(ev.Data)
//		case cove.Exit:
//			fmt.Println("status", ev.Code)
//		}
//	}
//
// # IMPORTANT: the program re-executes itself
//
// cove starts its sandbox init by re-executing the running binary (from a
// sealed in-memory copy). Importing this package installs the hook that
// recognises such a re-execution in an init function, before main runs. A
// program that uses cove must therefore not do anything irreversible in its
// own init functions that run before package cove's.
package cove
