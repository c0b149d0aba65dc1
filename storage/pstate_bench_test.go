package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage/internal/keyenc"
)

// Benchmarks of PState reads and writes. Fixtures are written straight
// into an SST in key order and ingested, so that even the 10M-element case
// loads in seconds with little memory. Sizes:
//
//	SQUALL_BENCH_POINT_KEYS  keys of BenchmarkSelectOnePoint (default 1000000)
//	SQUALL_BENCH_FULL=1      also run the 10M-element BenchmarkSortedRange100

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// ingestSorted writes the key/value pairs produced by gen (in increasing key
// order) into one SST and ingests it into db.
func ingestSorted(tb testing.TB, db *DB, gen func(emit func(k, v []byte) error) error) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "fixture.sst")
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		tb.Fatal(err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: db.pdb.TableFormat()})
	if err := gen(func(k, v []byte) error { return w.Set(k, v) }); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := db.pdb.Ingest(tb.Context(), []string{path}); err != nil {
		tb.Fatal(err)
	}
}

// pointFixture is a top-level map of n int keys to small records.
func pointFixture(b *testing.B, n int) (*DB, *PState) {
	db, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ps, err := NewPState("bench", "users", MapOf(Leaf(TypeInt), RecordOf(Field{"n", Leaf(TypeInt)}, Field{"name", Leaf(TypeString)})))
	if err != nil {
		b.Fatal(err)
	}
	prefix := objectPrefix(nil, ps.module, 0, kindPState, ps.name)
	ingestSorted(b, db, func(emit func(k, v []byte) error) error {
		key := make([]byte, 0, len(prefix)+16)
		for k := range n {
			key, _ = keyenc.Append(append(key[:0], prefix...), abi.Int(int64(k)))
			v, _ := abi.Encode(abi.Map(
				abi.MapEntry{Key: abi.String("n"), Val: abi.Int(int64(k))},
				abi.MapEntry{Key: abi.String("name"), Val: abi.String("user-" + strconv.Itoa(k))}))
			if err := emit(key, v); err != nil {
				return err
			}
		}
		return nil
	})
	return db, ps
}

// BenchmarkSelectOnePoint reads one top-level key of a 1M-key PState
// (committed data, random keys).
func BenchmarkSelectOnePoint(b *testing.B) {
	n := envInt("SQUALL_BENCH_POINT_KEYS", 1_000_000)
	db, ps := pointFixture(b, n)
	r := rand.New(rand.NewPCG(1, 2))
	paths := make([]abi.Path, 4096)
	for i := range paths {
		paths[i] = abi.P().Key(abi.Int(int64(r.IntN(n))))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		v, err := db.SelectOne(ps, 0, paths[i%len(paths)])
		if err != nil || v.IsNil() {
			b.Fatal(v, err)
		}
		i++
	}
}

// BenchmarkIncr increments top-level counters (100K keys, random), 1000
// transforms per committed batch.
func BenchmarkIncr(b *testing.B) {
	db, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ps, err := NewPState("bench", "counts", MapOf(Leaf(TypeInt), Leaf(TypeInt)))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	paths := make([]abi.Path, 4096)
	for i := range paths {
		paths[i] = abi.P().Key(abi.Int(int64(r.IntN(100_000)))).Incr(1)
	}
	const perBatch = 1000
	b.ReportAllocs()
	batch := db.NewBatch()
	i := 0
	for b.Loop() {
		if _, err := batch.Transform(ps, 0, paths[i%len(paths)]); err != nil {
			b.Fatal(err)
		}
		i++
		if i%perBatch == 0 {
			if _, err := batch.Commit(b.Context()); err != nil {
				b.Fatal(err)
			}
			batch = db.NewBatch()
		}
	}
	if _, err := batch.Commit(b.Context()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSortedRange100 reads 100 consecutive elements from a random
// place of a subindexed map of 10K, 1M and (with SQUALL_BENCH_FULL=1) 10M
// elements.
func BenchmarkSortedRange100(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			if n > 1_000_000 && os.Getenv("SQUALL_BENCH_FULL") != "1" {
				b.Skip("set SQUALL_BENCH_FULL=1 to run the 10M-element case")
			}
			db, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ps, err := NewPState("bench", "follows", MapOf(Leaf(TypeString), MapOf(Leaf(TypeInt), Leaf(TypeInt)).Subindexed()))
			if err != nil {
				b.Fatal(err)
			}
			node, _ := keyenc.Append(objectPrefix(nil, ps.module, 0, kindPState, ps.name), abi.String("u"))
			ingestSorted(b, db, func(emit func(k, v []byte) error) error {
				if err := emit(metaKey(node), encodeMeta(nodeMap, &meta{size: int64(n)})); err != nil {
					return err
				}
				key := make([]byte, 0, len(node)+16)
				var val []byte
				for k := range n {
					key, _ = keyenc.Append(append(key[:0], node...), abi.Int(int64(k)))
					val, _ = abi.AppendEncode(val[:0], abi.Int(int64(k)*3))
					if err := emit(key, val); err != nil {
						return err
					}
				}
				return nil
			})
			if v, err := db.SelectOne(ps, 0, abi.P().Key(abi.String("u")).View(abi.ViewSize)); err != nil || !abi.Equal(v, abi.Int(int64(n))) {
				b.Fatalf("size = %v, %v", v, err)
			}
			r := rand.New(rand.NewPCG(5, 6))
			paths := make([]abi.Path, 4096)
			for i := range paths {
				paths[i] = abi.P().Key(abi.String("u")).SortedRange(abi.Int(int64(r.IntN(n-100))), abi.Nil(), abi.RangeOpts{Limit: 100})
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				v, err := db.SelectOne(ps, 0, paths[i%len(paths)])
				if err != nil || v.Len() != 100 {
					b.Fatal(v.Len(), err)
				}
				i++
			}
		})
	}
}
