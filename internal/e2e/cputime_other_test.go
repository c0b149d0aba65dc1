//go:build !linux

package e2e

import "time"

func threadCPUTime() (time.Duration, bool)  { return 0, false }
func processCPUTime() (time.Duration, bool) { return 0, false }
