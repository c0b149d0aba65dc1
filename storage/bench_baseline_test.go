package storage

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage/internal/keyenc"
)

// Baselines for the PState benchmarks: the same work done with raw Pebble
// calls on the same data, so docs/benchmarks.md can show what the path
// engine, schema checks and canonical values cost on top of the store.

// BenchmarkRawPebbleGetPoint is the baseline of BenchmarkSelectOnePoint: a
// pebble Get of the same pre-encoded keys of the same 1M-key fixture,
// copying the value out, with no path, decoding or schema work.
func BenchmarkRawPebbleGetPoint(b *testing.B) {
	n := envInt("SQUALL_BENCH_POINT_KEYS", 1_000_000)
	db, ps := pointFixture(b, n)
	prefix := objectPrefix(nil, ps.module, 0, kindPState, ps.name)
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i], _ = keyenc.Append(append([]byte(nil), prefix...), abi.Int(int64(r.IntN(n))))
	}
	b.ReportAllocs()
	var buf []byte
	i := 0
	for b.Loop() {
		v, closer, err := db.pdb.Get(keys[i%len(keys)])
		if err != nil {
			b.Fatal(err)
		}
		buf = append(buf[:0], v...)
		closer.Close()
		i++
	}
	_ = buf
}

// BenchmarkRawPebbleIncr is the baseline of BenchmarkIncr: read a counter
// from an indexed batch, add one, write it back as a fixed 8-byte integer,
// 1000 increments per synced commit, same key distribution.
func BenchmarkRawPebbleIncr(b *testing.B) {
	db, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	prefix := objectPrefix(nil, "bench", 0, kindPState, "counts")
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i], _ = keyenc.Append(append([]byte(nil), prefix...), abi.Int(int64(r.IntN(100_000))))
	}
	const perBatch = 1000
	b.ReportAllocs()
	batch := db.pdb.NewIndexedBatch()
	var val [8]byte
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		var n uint64
		if v, closer, err := batch.Get(k); err == nil {
			n = binary.BigEndian.Uint64(v)
			closer.Close()
		} else if err != pebble.ErrNotFound {
			b.Fatal(err)
		}
		binary.BigEndian.PutUint64(val[:], n+1)
		if err := batch.Set(k, val[:], nil); err != nil {
			b.Fatal(err)
		}
		i++
		if i%perBatch == 0 {
			if err := batch.Commit(pebble.Sync); err != nil {
				b.Fatal(err)
			}
			batch = db.pdb.NewIndexedBatch()
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		b.Fatal(err)
	}
}
