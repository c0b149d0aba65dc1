package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/crashtest"
	"github.com/squall-run/squall/storage"
)

// The exactly-once proof of microbatch topologies, natively (the wasm
// bank example has the same test in internal/e2e): a child process (this
// test binary) deposits into 16 accounts, then appends random transfers
// with APPEND_ACK while the microbatch topology "bank" moves money between
// partitions; the parent kills it with SIGKILL at a random moment,
// restarts it on the same directory, several times, and finally checks
// that every transfer in the depot was applied or refused exactly once,
// that every acknowledged transfer is in the depot, and that the balances
// still sum to the deposits.
const (
	mbCrashChildEnv = "SQUALL_ENGINE_MB_CRASH_CHILD"
	mbCrashIterEnv  = "SQUALL_ENGINE_MB_CRASH_ITER"
	mbCrashTasks    = 4
	mbCrashAccounts = 16
)

func mbCrashChild() int {
	dir := os.Getenv(mbCrashChildEnv)
	iter, _ := strconv.Atoi(os.Getenv(mbCrashIterEnv))
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e, err := Open(Config{DB: db, Seed: uint64(iter + 1)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f, _ := bankNative(bankDef("bank", 64)).Factory()
	ctx := context.Background()
	if err := e.Deploy(ctx, ModuleSpec{Def: bankDef("bank", 64), Tasks: mbCrashTasks, NewProcessor: f, ABIMinor: abi.Minor}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if iter == 0 {
		for i := range mbCrashAccounts {
			if _, err := e.AppendToDepot(ctx, "bank", "deposits", deposit(account(i), 1000), AckAppendAck); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		fmt.Println("D")
	}
	rng := rand.New(rand.NewPCG(uint64(iter), 99))
	for n := 0; ; n++ {
		from, to := rng.IntN(mbCrashAccounts), rng.IntN(mbCrashAccounts-1)
		if to >= from {
			to++
		}
		id := iter*1_000_000 + n
		if _, err := e.AppendToDepot(ctx, "bank", "transfers", transfer(id, account(from), account(to), int64(1+rng.IntN(400))), AckAppendAck); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Printf("A t%d\n", id)
	}
}

func TestMicrobatchCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: runs child processes")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for iter := range 4 {
		runMBCrashChild(t, dir, iter, 150+rng.IntN(600), acked)
	}
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := Open(Config{DB: db, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	f, _ := bankNative(bankDef("bank", 64)).Factory()
	if err := e.Deploy(context.Background(), ModuleSpec{Def: bankDef("bank", 64), NewProcessor: f, ABIMinor: abi.Minor}); err != nil {
		t.Fatal(err)
	}
	env := &testEnv{t: t, db: db, e: e}
	env.waitIdle("bank")
	transfers := readDepot(t, db, "bank", "transfers", mbCrashTasks)
	inDepot := map[string]bool{}
	for _, tr := range transfers {
		s, _ := field(tr, "id").AsString()
		inDepot[s] = true
	}
	for id := range acked {
		if !inDepot[id] {
			t.Errorf("acknowledged transfer %s is not in the depot", id)
		}
	}
	var total int64
	for _, d := range readDepot(t, db, "bank", "deposits", mbCrashTasks) {
		n, _ := field(d, "amount").AsInt()
		total += n
	}
	if total != mbCrashAccounts*1000 {
		t.Errorf("deposits sum to %d, want %d", total, mbCrashAccounts*1000)
	}
	checkBank(t, env, "bank", transfers, total)
	t.Logf("%d transfers in the depot, %d acknowledged, %d microbatches", len(transfers), len(acked), env.mbStatus("bank", "bank").Next)
}

func readDepot(t *testing.T, db *storage.DB, module, depot string, tasks uint32) []abi.Value {
	t.Helper()
	d, err := db.LookupDepot(module, depot)
	if err != nil {
		t.Fatal(err)
	}
	var out []abi.Value
	for p := range tasks {
		_, next, err := d.Bounds(p)
		if err != nil {
			t.Fatal(err)
		}
		for off := uint64(0); off < next; {
			es, err := d.Read(p, off, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range es {
				off = en.Offset + 1
				v, err := abi.Decode(en.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// runMBCrashChild runs the child until it acknowledged n transfers (or
// for at most 10 s) and kills it with SIGKILL.
func runMBCrashChild(t *testing.T, dir string, iter, n int, acked map[string]bool) {
	res := crashtest.Run(t, crashtest.Child{
		Env:     []string{mbCrashChildEnv + "=" + dir, mbCrashIterEnv + "=" + strconv.Itoa(iter)},
		Acks:    n,
		Timeout: 10 * time.Second,
		Ack:     crashtest.IDs(acked, 2),
	})
	t.Logf("iteration %d: killed the child after %d acknowledged transfers", iter, res.Acks)
}
