package e2e

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every test stops what it started: engines, host
// runtimes, stores.
func TestMain(m *testing.M) {
	if os.Getenv(bankChildEnv) != "" {
		os.Exit(bankChild())
	}
	goleak.VerifyTestMain(m)
}
