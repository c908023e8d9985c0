// cove runs for the life of one program: it needs neither the runtime's
// start-up read of the cgroup CPU limit to size GOMAXPROCS nor its periodic
// re-reads. Both cost start latency on every run.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main
