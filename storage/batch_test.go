package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
)

// TestBatchAtomicVisibility commits transfers between two keys, each with a
// depot append and a progress record, while readers check that they never
// see part of a batch.
func TestBatchAtomicVisibility(t *testing.T) {
	db := openTest(t)
	log, err := db.Depot("m", "log", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keyA, keyB := crashAcctFor("m", 0, "a"), crashAcctFor("m", 0, "b")
	get := func(r pebble.Reader, k []byte) int64 {
		v, closer, err := r.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return 0
		}
		if err != nil {
			t.Error(err)
			return 0
		}
		defer closer.Close()
		return int64(binary.BigEndian.Uint64(v))
	}
	const batches = 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := db.pdb.NewSnapshot()
				a, b := get(snap, keyA), get(snap, keyB)
				_ = snap.Close()
				if a+b != 0 {
					t.Errorf("saw a=%d b=%d: half a batch", a, b)
					return
				}
				// The log never runs ahead of the progress it was
				// committed with.
				_, next, err := log.Bounds(0)
				if err != nil {
					t.Error(err)
					return
				}
				v, _, err := db.Progress("m", "t", 0)
				if err != nil {
					t.Error(err)
					return
				}
				var seq uint64
				fmt.Sscan(string(v), &seq)
				if seq < next {
					t.Errorf("log has %d records but progress says %d batches", next, seq)
					return
				}
			}
		})
	}
	for seq := 1; seq <= batches; seq++ {
		b := db.NewBatch()
		x := int64(seq)
		if err := b.pb.Set(keyA, binary.BigEndian.AppendUint64(nil, uint64(get(b.pb, keyA)-x)), nil); err != nil {
			t.Fatal(err)
		}
		if err := b.pb.Set(keyB, binary.BigEndian.AppendUint64(nil, uint64(get(b.pb, keyB)+x)), nil); err != nil {
			t.Fatal(err)
		}
		if err := b.Append(log, 0, Record{Value: mp(t, abi.Int(x))}); err != nil {
			t.Fatal(err)
		}
		if err := b.SetProgress("m", "t", 0, fmt.Appendf(nil, "%d", seq)); err != nil {
			t.Fatal(err)
		}
		res, err := b.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Offsets) != 1 || res.Offsets[0] != uint64(seq-1) {
			t.Fatalf("batch %d: offsets %v, want [%d]", seq, res.Offsets, seq-1)
		}
	}
	close(stop)
	wg.Wait()
}

func crashAcctFor(module string, p uint32, which string) []byte {
	return append(objectPrefix(nil, module, p, kindPState, "acct"), which...)
}

// TestBatchLifecycle checks the errors of a batch used after Commit or
// Close, and that Close and a cancelled Commit write nothing.
func TestBatchLifecycle(t *testing.T) {
	db := openTest(t)
	d, err := db.Depot("m", "d", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Value: mp(t, abi.Int(1))}
	ctx := context.Background()

	b := db.NewBatch()
	if err := b.Append(d, 0, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(d, 0, rec); !errors.Is(err, ErrBatchDone) {
		t.Errorf("Append after Commit: %v", err)
	}
	if err := b.SetProgress("m", "t", 0, nil); !errors.Is(err, ErrBatchDone) {
		t.Errorf("SetProgress after Commit: %v", err)
	}
	if _, err := b.Commit(ctx); err == nil || err.Error() != "storage: the batch was already committed or closed; start a new one with DB.NewBatch" {
		t.Errorf("Commit after Commit: %v", err)
	}
	b.Close() // no-op

	b = db.NewBatch()
	if err := b.Append(d, 0, rec); err != nil {
		t.Fatal(err)
	}
	if err := b.SetProgress("m", "t", 0, []byte("x")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b.Close()
	if _, err := b.Commit(ctx); !errors.Is(err, ErrBatchDone) {
		t.Errorf("Commit after Close: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	b = db.NewBatch()
	if err := b.Append(d, 0, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled context: %v", err)
	}
	if _, err := d.Append(cctx, 0, rec); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: %v", err)
	}

	if _, next, _ := d.Bounds(0); next != 1 {
		t.Errorf("next = %d after one committed append", next)
	}
	if _, ok, _ := db.Progress("m", "t", 0); ok {
		t.Errorf("progress of a closed batch was written")
	}

	other := openTest(t)
	od, err := other.Depot("m", "d", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b = db.NewBatch()
	defer b.Close()
	if err := b.Append(od, 0, rec); err == nil || err.Error() != "storage: Batch.Append: depot m/d belongs to another DB" {
		t.Errorf("Append of another DB's depot: %v", err)
	}
	if err := b.SetProgress("m", "t", 0, make([]byte, MaxProgressSize+1)); err == nil ||
		err.Error() != "storage: progress of topology m/t partition 0: the progress record is 1048577 bytes; the limit is 1048576: keep progress to offsets and ids" ||
		!errors.Is(err, ErrTooLarge) {
		t.Errorf("SetProgress too large: %v", err)
	}
}
