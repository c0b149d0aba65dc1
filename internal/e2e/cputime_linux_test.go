package e2e

import (
	"syscall"
	"time"
)

// threadCPUTime returns the CPU time the calling OS thread has used (call
// it with the goroutine locked to its thread), or false where the platform
// cannot tell.
func threadCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// processCPUTime returns the CPU time the process has used, or false where
// the platform cannot tell.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
