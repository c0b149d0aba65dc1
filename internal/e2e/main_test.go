package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every test stops what it started: engines, host
// runtimes, stores.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
