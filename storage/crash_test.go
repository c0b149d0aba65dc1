package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/crashtest"
)

// The crash tests run a workload of concurrent durable appends and
// processing batches, crash it, reopen the store and check that
//
//   - every acknowledged append is present at its offset with its payload
//     (unless trimmed), and every partition's offsets are dense from first
//     to next;
//   - no batch is half-applied: each batch moves an amount between two
//     accounts of a PState (two transforms), appends one record to a log depot and sets its progress
//     to its sequence number, so the accounts, the log and the progress of a
//     partition must all agree on the number of committed batches;
//   - every acknowledged batch is among the committed ones.
//
// TestCrash kills a child process (SIGKILL: what the OS had accepted
// survives); TestCrashPowerLoss clones an in-memory file system as a power
// loss would leave it (only synced data, plus a random part of the rest).

const (
	crashChildEnv = "SQUALL_CRASH_CHILD_DIR"
	crashIterEnv  = "SQUALL_CRASH_ITER"
	crashModule   = "crash"
	crashParts    = 4  // partitions of every depot, and batch writers
	crashTrimMax  = 40 // MaxEntries of the trimmed depot
)

// crashAccounts is the PState the batches transfer between: account "a"
// and account "b" of each partition.
func crashAccounts() *PState {
	ps, err := NewPState(crashModule, "accounts", MapOf(Leaf(TypeString), Leaf(TypeInt)))
	if err != nil {
		panic(err)
	}
	return ps
}

// crashAmount is what batch seq moves from account a to account b.
func crashAmount(seq int) int64 { return int64(seq%7 + 1) }

// crashPayload is record j of an append identified by prefix.
func crashPayload(prefix string, j int) string { return prefix + "-" + strconv.Itoa(j) }

// runCrashWorkload writes until ctx ends, calling ack with one line for
// every acknowledged append ("A depot partition first count prefix") and
// batch ("B partition seq offset"). It returns when all its goroutines
// have.
func runCrashWorkload(ctx context.Context, db *DB, iter int, ack func(string)) error {
	events, err := db.Depot(crashModule, "events", DepotOptions{})
	if err != nil {
		return err
	}
	trimmed, err := db.Depot(crashModule, "trimmed", DepotOptions{MaxEntries: crashTrimMax})
	if err != nil {
		return err
	}
	nosync, err := db.Depot(crashModule, "nosync", DepotOptions{})
	if err != nil {
		return err
	}
	log, err := db.Depot(crashModule, "log", DepotOptions{})
	if err != nil {
		return err
	}
	accounts := crashAccounts()
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	stopped := func(err error) bool {
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			errc <- err
		}
		return err != nil || ctx.Err() != nil
	}
	appender := func(d *Depot, g int, sync bool) {
		for n := 0; ; n++ {
			p := uint32((g + n) % crashParts)
			prefix := fmt.Sprintf("i%d-%s-g%d-n%d", iter, d.Name(), g, n)
			recs := make([]Record, 1+n%3)
			for j := range recs {
				recs[j] = Record{Value: mustEncode(abi.String(crashPayload(prefix, j)))}
			}
			var first uint64
			var err error
			if sync {
				first, err = d.Append(ctx, p, recs...)
			} else {
				first, err = d.AppendNoSync(ctx, p, recs...)
			}
			if stopped(err) {
				return
			}
			if sync {
				ack(fmt.Sprintf("A %s %d %d %d %s", d.Name(), p, first, len(recs), prefix))
			}
		}
	}
	for g := range 6 {
		wg.Go(func() { appender(events, g, true) })
	}
	for g := range 2 {
		wg.Go(func() { appender(trimmed, g, true) })
	}
	wg.Go(func() { appender(nosync, 0, false) })
	for p := range uint32(crashParts) {
		wg.Go(func() {
			last, _, err := db.Progress(crashModule, "xfer", p)
			if stopped(err) {
				return
			}
			seq := 0
			if last != nil {
				if seq, err = strconv.Atoi(string(last)); err != nil {
					errc <- err
					return
				}
			}
			for {
				seq++
				b := db.NewBatch()
				for which, amount := range map[string]int64{"a": -crashAmount(seq), "b": crashAmount(seq)} {
					if _, err := b.Transform(accounts, p, abi.P().Key(abi.String(which)).Incr(amount)); err != nil {
						errc <- err
						b.Close()
						return
					}
				}
				err := b.Append(log, p, Record{Value: mustEncode(abi.String(fmt.Sprintf("p%d-s%d", p, seq)))})
				if err == nil {
					err = b.SetProgress(crashModule, "xfer", p, []byte(strconv.Itoa(seq)))
				}
				var res CommitResult
				if err == nil {
					res, err = b.Commit(ctx)
				}
				b.Close()
				if stopped(err) {
					return
				}
				ack(fmt.Sprintf("B %d %d %d", p, seq, res.Offsets[0]))
			}
		})
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func mustEncode(v abi.Value) []byte {
	b, err := abi.Encode(v)
	if err != nil {
		panic(err)
	}
	return b
}

// checkCrashStore checks a reopened store against the acknowledgments of
// every run so far.
func checkCrashStore(t *testing.T, db *DB, acks []string) {
	t.Helper()
	depots := map[string]*Depot{}
	for _, name := range []string{"events", "trimmed", "nosync", "log"} {
		d, err := db.Depot(crashModule, name, DepotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		depots[name] = d
	}
	// Read every partition in full, checking density.
	type pkey struct {
		depot string
		p     uint32
	}
	contents := map[pkey]map[uint64]string{}
	firsts := map[pkey]uint64{}
	for name, d := range depots {
		for p := range uint32(crashParts) {
			first, next, err := d.Bounds(p)
			if err != nil {
				t.Fatal(err)
			}
			if name == "trimmed" && next-first > crashTrimMax+crashTrimMax/16 {
				t.Errorf("depot trimmed partition %d holds [%d, %d): more than MaxEntries + slack", p, first, next)
			}
			m := map[uint64]string{}
			for off := first; off < next; {
				es, err := d.Read(p, off, 1000)
				if err != nil {
					t.Fatalf("depot %s partition %d: read at %d of [%d, %d): %v", name, p, off, first, next, err)
				}
				for _, e := range es {
					if e.Offset != off {
						t.Fatalf("depot %s partition %d: offset %d where %d belongs", name, p, e.Offset, off)
					}
					v, err := abi.Decode(e.Value)
					if err != nil {
						t.Fatalf("depot %s partition %d offset %d: %v", name, p, off, err)
					}
					m[off], _ = v.AsString()
					off++
				}
			}
			contents[pkey{name, p}] = m
			firsts[pkey{name, p}] = first
		}
	}
	// Batches: the accounts, the log and the progress agree.
	committed := map[uint32]int{}
	for p := range uint32(crashParts) {
		seq := 0
		if v, ok, err := db.Progress(crashModule, "xfer", p); err != nil {
			t.Fatal(err)
		} else if ok {
			if seq, err = strconv.Atoi(string(v)); err != nil {
				t.Fatal(err)
			}
		}
		committed[p] = seq
		var want int64
		for s := 1; s <= seq; s++ {
			want += crashAmount(s)
		}
		for which, w := range map[string]int64{"a": -want, "b": want} {
			v, err := db.SelectOne(crashAccounts(), p, abi.P().Key(abi.String(which)))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := v.AsInt() // nil (absent) is 0
			if got != w {
				t.Errorf("partition %d: account %s is %v after %d batches, want %d (a batch was half-applied)", p, which, v, seq, w)
			}
		}
		log := contents[pkey{"log", p}]
		if len(log) != seq || firsts[pkey{"log", p}] != 0 {
			t.Errorf("partition %d: log holds %d records from %d, progress says %d batches", p, len(log), firsts[pkey{"log", p}], seq)
		}
		for s := 1; s <= seq; s++ {
			if got, want := log[uint64(s-1)], fmt.Sprintf("p%d-s%d", p, s); got != want {
				t.Errorf("partition %d: log offset %d holds %q, want %q", p, s-1, got, want)
			}
		}
	}
	// Acknowledged appends and batches are there.
	nA, nB := 0, 0
	for _, line := range acks {
		f := strings.Fields(line)
		switch {
		case len(f) == 6 && f[0] == "A":
			nA++
			p, _ := strconv.ParseUint(f[2], 10, 32)
			first, _ := strconv.ParseUint(f[3], 10, 64)
			n, _ := strconv.Atoi(f[4])
			k := pkey{f[1], uint32(p)}
			for j := range n {
				off := first + uint64(j)
				if off < firsts[k] {
					continue // trimmed
				}
				if got, want := contents[k][off], crashPayload(f[5], j); got != want {
					t.Errorf("acknowledged %s: offset %d holds %q, want %q", line, off, got, want)
				}
			}
		case len(f) == 4 && f[0] == "B":
			nB++
			p, _ := strconv.ParseUint(f[1], 10, 32)
			seq, _ := strconv.Atoi(f[2])
			off, _ := strconv.ParseUint(f[3], 10, 64)
			if seq > committed[uint32(p)] {
				t.Errorf("acknowledged %s, but partition %d has only %d batches", line, p, committed[uint32(p)])
			}
			if off != uint64(seq-1) {
				t.Errorf("acknowledged %s: batch %d got log offset %d, want %d", line, seq, off, seq-1)
			}
		default:
			t.Fatalf("bad ack line %q", line)
		}
	}
	t.Logf("checked %d acknowledged appends and %d batches; batches committed per partition: %v", nA, nB, committed)
}

// TestCrashChild is the child of TestCrash; it runs only when started by it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	iter, _ := strconv.Atoi(os.Getenv(crashIterEnv))
	db, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = os.Stdout.WriteString(line + "\n") // one write: a line is whole or absent
	}
	ack("READY")
	// The parent kills us long before this.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := runCrashWorkload(ctx, db, iter, ack); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(4)
}

// TestCrash kills a child process writing to the store at a random moment,
// several times over the same directory, checking the store after each.
func TestCrash(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the child")
	}
	iters := 5
	if testing.Short() {
		iters = 2
	}
	dir := t.TempDir()
	var acks []string
	for iter := range iters {
		killAt := time.Duration(200+rand.IntN(600)) * time.Millisecond
		res := crashtest.Run(t, crashtest.Child{
			Args:    []string{"-test.run=^TestCrashChild$", "-test.count=1"},
			Env:     []string{crashChildEnv + "=" + dir, crashIterEnv + "=" + strconv.Itoa(iter)},
			Ready:   "READY",
			Timeout: killAt,
			Ack: func(line string) bool {
				acks = append(acks, line)
				return true
			},
		})
		t.Logf("iteration %d: killed after %v with %d new acknowledgments", iter, killAt, res.Acks)

		db, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("iteration %d: reopen: %v", iter, err)
		}
		checkCrashStore(t, db, acks)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// TestCrashPowerLoss runs the workload on a crashable in-memory file system
// and, at random moments, takes the state a power loss would leave (only
// what was synced, plus a random part of what was not), then reopens that
// and checks it against the acknowledgments made before the crash.
func TestCrashPowerLoss(t *testing.T) {
	iters := 4
	if testing.Short() {
		iters = 2
	}
	fs := vfs.NewCrashableMem()
	var acks []string
	for iter := range iters {
		db, err := Open("/db", Options{FS: fs})
		if err != nil {
			t.Fatalf("iteration %d: open: %v", iter, err)
		}
		var mu sync.Mutex
		var iterAcks []string
		ack := func(line string) {
			mu.Lock()
			iterAcks = append(iterAcks, line)
			mu.Unlock()
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runCrashWorkload(ctx, db, iter, ack) }()
		time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
		mu.Lock()
		before := append([]string(nil), iterAcks...)
		mu.Unlock()
		seed := rand.Uint64()
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, seed))})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		acks = append(acks, before...)
		fs = crashed
		db, err = Open("/db", Options{FS: fs})
		if err != nil {
			t.Fatalf("iteration %d (seed %d): reopen after power loss: %v", iter, seed, err)
		}
		t.Logf("iteration %d: %d acknowledgments before the crash", iter, len(before))
		checkCrashStore(t, db, acks)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}
