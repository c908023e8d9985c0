package chain

// ExecMain implements `cove exec [OPTIONS] [--] COMMAND...`; args excludes "cove" and "exec".
func ExecMain(args []string) int { return 125 }
