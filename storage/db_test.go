package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// committer of every DB must be stopped by Close.
func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		// The crash test's child is killed mid-flight; leak checks make
		// no sense there.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// TestCloseStopsCommitter checks that Close stops the DB's goroutines and
// fails writes that were still queued with ErrClosed.
func TestCloseStopsCommitter(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Depot("m", "d", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Value: mp(t, abi.String("x"))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for g := range 16 {
		wg.Go(func() {
			for range 200 {
				_, err := d.Append(context.Background(), uint32(g%4), rec)
				mu.Lock()
				switch {
				case err == nil:
					outcomes["ok"]++
				case errors.Is(err, ErrClosed):
					outcomes["closed"]++
				default:
					outcomes[err.Error()]++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	for {
		mu.Lock()
		n := outcomes["ok"]
		mu.Unlock()
		if n > 50 {
			break
		}
		runtime.Gosched()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(outcomes) > 2 {
		t.Fatalf("unexpected outcomes: %v", outcomes)
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestFormatVersion checks the errors of a store of another format
// version and of a Pebble database that is not a Squall store.
func TestFormatVersion(t *testing.T) {
	for _, tc := range []struct {
		version uint32
		want    string
	}{
		{2, "storage: %s was written by a newer Squall (format version 2; this binary reads 1): upgrade the squall binary"},
		{0, "storage: %s uses format version 0; this binary reads 1: migrate it with the Squall release that introduced version 1"},
	} {
		t.Run(fmt.Sprint(tc.version), func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			pdb, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
			if err != nil {
				t.Fatal(err)
			}
			if err := pdb.Set(formatKey, binary.BigEndian.AppendUint32(nil, tc.version), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := pdb.Close(); err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Options{})
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Found != tc.version || fe.Want != FormatVersion {
				t.Fatalf("Open = %v, want a *FormatError", err)
			}
			if want := fmt.Sprintf(tc.want, dir); err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
		})
	}
}

func TestNotSquallDir(t *testing.T) {
	dir := t.TempDir()
	pdb, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pdb.Set([]byte("someone else's"), []byte("data"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := pdb.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	want := "storage: not a Squall data directory: " + dir + " holds data but no Squall format version record (or the record was lost); open an empty directory or one Squall created"
	if err == nil || err.Error() != want {
		t.Fatalf("Open = %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrNotSquallDir) {
		t.Errorf("error does not match ErrNotSquallDir")
	}
}

// TestOpenInUse: a second Open of a directory that is open says that it is
// in use, not just "resource temporarily unavailable".
func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db2, err := Open(dir, Options{}); err == nil {
		db2.Close()
		t.Fatal("opened a directory that is open")
	} else if !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("error %q does not say the directory is in use", err)
	}
}
