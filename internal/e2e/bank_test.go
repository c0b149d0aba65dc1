package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/crashtest"
	"github.com/squall-run/squall/internal/engine"
	"github.com/squall-run/squall/storage"
)

// The exactly-once proof with the wasm bank example (examples/bank/go): a
// child process (this test binary) runs a node with the module, deposits
// into the accounts, then appends random transfers with APPEND_ACK while
// the microbatch topology moves money between partitions. The parent
// kills it with SIGKILL after a random number of transfers, restarts it
// on the same directory, five times, then checks on the final node that
// the balances still sum to the deposits (query "total"), that every
// transfer of the depot is in its sender's history exactly once (debited
// or refused) and, when debited, in its receiver's history exactly once
// (credited), and that every acknowledged transfer is in the depot.
const (
	bankSrc        = "examples/bank/go"
	bankChildEnv   = "SQUALL_E2E_BANK_CHILD" // the data directory
	bankWasmEnv    = "SQUALL_E2E_BANK_WASM"
	bankIterEnv    = "SQUALL_E2E_BANK_ITER"
	bankAccounts   = 12
	bankDeposit    = 1000
	bankMaxAmounts = 400
)

func bankAccount(i int) string { return fmt.Sprintf("acct%02d", i) }

func bankTransfer(id, from, to string, amount int64) abi.Value {
	return abi.Map(abi.MapEntry{Key: abi.String("id"), Val: abi.String(id)}, abi.MapEntry{Key: abi.String("from"), Val: abi.String(from)},
		abi.MapEntry{Key: abi.String("to"), Val: abi.String(to)}, abi.MapEntry{Key: abi.String("amount"), Val: abi.Int(amount)})
}

// bankNode opens a node on dir with the bank module deployed.
func bankNode(dir string, wasm []byte, log func(string)) (*storage.DB, *engine.Engine, *host.Runtime, error) {
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	e, err := engine.Open(engine.Config{DB: db})
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := host.DefaultConfig()
	cfg.CacheDir = wazeroCache()
	rt, err := host.NewRuntime(context.Background(), cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx := context.Background()
	m, err := rt.Compile(ctx, "bank", wasm)
	if err != nil {
		return nil, nil, nil, err
	}
	def, err := m.Describe(ctx, host.InitParams{Tasks: tasks})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := e.Deploy(ctx, engine.ModuleSpec{Def: def, Tasks: tasks, NewProcessor: engine.WasmFactory(m, tasks), ABIMinor: m.ABIMinor()}); err != nil {
		return nil, nil, nil, err
	}
	return db, e, rt, nil
}

func bankChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 2 }
	wasm, err := os.ReadFile(os.Getenv(bankWasmEnv))
	if err != nil {
		return fail(err)
	}
	iter, _ := strconv.Atoi(os.Getenv(bankIterEnv))
	_, e, _, err := bankNode(os.Getenv(bankChildEnv), wasm, nil)
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	if iter == 0 {
		for i := range bankAccounts {
			dep := abi.Map(abi.MapEntry{Key: abi.String("account"), Val: abi.String(bankAccount(i))},
				abi.MapEntry{Key: abi.String("amount"), Val: abi.Int(bankDeposit)})
			if _, err := e.AppendToDepot(ctx, "bank", "deposits", dep, engine.AckAppendAck); err != nil {
				return fail(err)
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(iter), 31))
	for n := 0; ; n++ {
		from, to := rng.IntN(bankAccounts), rng.IntN(bankAccounts-1)
		if to >= from {
			to++
		}
		id := fmt.Sprintf("i%d-%d", iter, n)
		if _, err := e.AppendToDepot(ctx, "bank", "transfers", bankTransfer(id, bankAccount(from), bankAccount(to), int64(1+rng.IntN(bankMaxAmounts))), engine.AckAppendAck); err != nil {
			return fail(err)
		}
		fmt.Println("A", id)
	}
}

func TestBankExactlyOnceUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds the bank example and runs child processes")
	}
	wasm := moduleWasm(t, bankSrc)
	dir := t.TempDir()
	wasmPath := filepath.Join(t.TempDir(), "bank.wasm")
	if err := os.WriteFile(wasmPath, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for iter := range 5 {
		runBankChild(t, dir, wasmPath, iter, 100+rng.IntN(500), acked)
	}

	db, e, rt, err := bankNode(dir, wasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, db: db, e: e, rt: rt}
	defer n.close()
	n.waitIdle("bank", time.Minute)
	ctx := context.Background()
	total, err := e.Invoke(ctx, "bank", "total", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !abi.Equal(total, abi.Int(bankAccounts*bankDeposit)) {
		t.Errorf("the balances sum to %v, want %d", total, bankAccounts*bankDeposit)
	}
	seen := map[string]int{} // "kind id" -> entries
	for i := range bankAccounts {
		v, err := e.Invoke(ctx, "bank", "account", []abi.Value{abi.String(bankAccount(i)), abi.Int(1000)}, 0)
		if err != nil {
			t.Fatal(err)
		}
		hist, _ := v.Get(abi.String("transfers"))
		for _, en := range hist.Items() {
			k, _ := en.Get(abi.String("kind"))
			id, _ := en.Get(abi.String("id"))
			ks, _ := k.AsString()
			ids, _ := id.AsString()
			seen[ks+" "+ids]++
		}
	}
	inDepot := 0
	applied := 0
	for _, tr := range depotRecords(t, db, "bank", "transfers") {
		idv, _ := tr.Get(abi.String("id"))
		id, _ := idv.AsString()
		inDepot++
		delete(acked, id)
		d, r, c := seen["debit "+id], seen["refused "+id], seen["credit "+id]
		if d+r != 1 || c != d {
			t.Errorf("transfer %s: debited %d times, refused %d, credited %d; want exactly once", id, d, r, c)
		}
		applied += d
	}
	for id := range acked {
		t.Errorf("acknowledged transfer %s is not in the depot", id)
	}
	if applied == 0 {
		t.Error("no transfer was applied")
	}
	ts, _ := e.Topologies("bank")
	t.Logf("%d transfers in the depot, %d applied, the others refused; %d microbatches", inDepot, applied, ts[0].Microbatch.Next)
}

// depotRecords reads every record of a depot, on every partition.
func depotRecords(t *testing.T, db *storage.DB, module, depot string) []abi.Value {
	t.Helper()
	d, err := db.LookupDepot(module, depot)
	if err != nil {
		t.Fatal(err)
	}
	var out []abi.Value
	for p := range uint32(tasks) {
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

// runBankChild runs the child until it acknowledged n transfers (or for
// at most 20 s) and kills it with SIGKILL.
func runBankChild(t *testing.T, dir, wasmPath string, iter, n int, acked map[string]bool) {
	res := crashtest.Run(t, crashtest.Child{
		Env:     []string{bankChildEnv + "=" + dir, bankWasmEnv + "=" + wasmPath, bankIterEnv + "=" + strconv.Itoa(iter)},
		Acks:    n,
		Timeout: 20 * time.Second,
		Ack:     crashtest.IDs(acked, 2),
	})
	t.Logf("iteration %d: killed the child after %d acknowledged transfers", iter, res.Acks)
}
