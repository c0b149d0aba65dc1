package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
)

// The append benchmarks compare durable depot appends through the group
// committer with the fair baseline: the same payloads written as raw Pebble
// batches committed with pebble.Sync from the same number of goroutines
// (Pebble's commit pipeline groups concurrent syncs too). Run them with
//
//	go test ./storage -run xxx -bench Append -benchtime 3s
//
// and compare records/s; the goal is at least 0.8 of the raw baseline.

const benchWriters = 64

// benchRecord returns a record of about 100 bytes.
func benchRecord(b *testing.B) Record {
	v := abi.Map(
		abi.MapEntry{Key: abi.String("user"), Val: abi.String("user-000042")},
		abi.MapEntry{Key: abi.String("event"), Val: abi.String("page_view")},
		abi.MapEntry{Key: abi.String("page"), Val: abi.String("/products/widgets/blue-widget-3000")},
		abi.MapEntry{Key: abi.String("ms"), Val: abi.Int(1732600000123)},
		abi.MapEntry{Key: abi.String("ok"), Val: abi.Bool(true)},
	)
	return Record{Key: mp(b, abi.String("user-000042")), Value: mp(b, v)}
}

// runWriters runs b.N operations split over benchWriters goroutines and
// reports records/s.
func runWriters(b *testing.B, op func(g, i int) error) {
	var wg sync.WaitGroup
	var errOnce sync.Once
	b.ResetTimer()
	for g := range benchWriters {
		n := b.N / benchWriters
		if g < b.N%benchWriters {
			n++
		}
		wg.Go(func() {
			for i := range n {
				if err := op(g, i); err != nil {
					errOnce.Do(func() { b.Error(err) })
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDurableAppend(b *testing.B) {
	db, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	d, err := db.Depot("bench", "events", DepotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rec := benchRecord(b)
	b.SetBytes(int64(len(rec.Key) + len(rec.Value)))
	ctx := context.Background()
	runWriters(b, func(g, _ int) error {
		_, err := d.Append(ctx, uint32(g%8), rec)
		return err
	})
	reportGroups(b, db)
}

// reportGroups closes db and reports the mean number of writes per group
// commit.
func reportGroups(b *testing.B, db *DB) {
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if db.c.groups > 0 {
		b.ReportMetric(float64(db.c.reqs)/float64(db.c.groups), "writes/group")
	}
}

func BenchmarkRawPebbleSyncAppend(b *testing.B) {
	pdb, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	defer pdb.Close()
	rec := benchRecord(b)
	b.SetBytes(int64(len(rec.Key) + len(rec.Value)))
	value := append(append([]byte{}, rec.Key...), rec.Value...)
	var prefixes [8][]byte
	var next [8]atomic.Uint64
	for p := range prefixes {
		prefixes[p] = objectPrefix(nil, "bench", uint32(p), kindDepot, "events")
	}
	runWriters(b, func(g, _ int) error {
		p := g % 8
		key := binary.BigEndian.AppendUint64(append([]byte(nil), prefixes[p]...), next[p].Add(1)-1)
		batch := pdb.NewBatch()
		if err := batch.Set(key, value, nil); err != nil {
			return err
		}
		err := batch.Commit(pebble.Sync)
		_ = batch.Close()
		return err
	})
}

// BenchmarkBatchCommit measures processing batches, each with two PState
// keys, a depot append and a progress record, from benchWriters goroutines
// (one per partition).
func BenchmarkBatchCommit(b *testing.B) {
	db, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	d, err := db.Depot("bench", "out", DepotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rec := benchRecord(b)
	ctx := context.Background()
	runWriters(b, func(g, i int) error {
		batch := db.NewBatch()
		defer batch.Close()
		p := uint32(g)
		if err := batch.pb.Set(crashAcctFor("bench", p, "a"), rec.Value, nil); err != nil {
			return err
		}
		if err := batch.pb.Set(crashAcctFor("bench", p, "b"), rec.Value, nil); err != nil {
			return err
		}
		if err := batch.Append(d, p, rec); err != nil {
			return err
		}
		if err := batch.SetProgress("bench", "topo", p, fmt.Appendf(nil, "%d", i)); err != nil {
			return err
		}
		_, err := batch.Commit(ctx)
		return err
	})
	reportGroups(b, db)
}

// BenchmarkBatchApply measures what merging a Batch's indexed Pebble batch
// into the group batch costs the committer (a copy of the batch's bytes and
// one pass over its entries), for batches of a few sizes.
func BenchmarkBatchApply(b *testing.B) {
	db := openTest(b)
	rec := benchRecord(b)
	for _, ops := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("ops=%d", ops), func(b *testing.B) {
			src := db.pdb.NewIndexedBatch()
			defer src.Close()
			for i := range ops {
				if err := src.Set(crashAcctFor("bench", 0, fmt.Sprint(i)), rec.Value, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(src.Repr())))
			b.ResetTimer()
			for range b.N {
				gb := db.pdb.NewBatch()
				if err := gb.Apply(src, nil); err != nil {
					b.Fatal(err)
				}
				_ = gb.Close()
			}
		})
	}
}
