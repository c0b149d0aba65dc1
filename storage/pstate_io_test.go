package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage/internal/keyenc"
)

// TestPStateTouchesOnlyWhatItNeeds checks the cost model of subindexed
// collections by counting storage reads: a sorted range of 100 out of 100K
// elements reads about 100 keys, size is one read, nth on a list is two.
func TestPStateTouchesOnlyWhatItNeeds(t *testing.T) {
	const n = 100_000
	if testing.Short() {
		t.Skip("builds a 100K-element collection")
	}
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ps, err := NewPState("m", "p", MapOf(Leaf(TypeString), RecordOf(
		Field{"m", MapOf(Leaf(TypeInt), Leaf(TypeInt)).Subindexed()},
		Field{"l", ListOf(Leaf(TypeInt)).Subindexed()},
	)))
	if err != nil {
		t.Fatal(err)
	}
	u := abi.String("u")
	for start := 0; start < n; start += 10_000 {
		b := db.NewBatch()
		entries := make([]abi.MapEntry, 0, 10_000)
		items := make([]abi.Value, 0, 10_000)
		for k := start; k < start+10_000; k++ {
			entries = append(entries, abi.MapEntry{Key: abi.Int(int64(k)), Val: abi.Int(int64(k * 2))})
			items = append(items, abi.Int(int64(k)))
		}
		if _, err := b.Transform(ps, 0, abi.P().Key(u).Key(abi.String("m")).Merge(abi.Map(entries...))); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Transform(ps, 0, abi.P().Key(u).Key(abi.String("l")).Append(items...)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	m := abi.P().Key(u).Key(abi.String("m"))
	l := abi.P().Key(u).Key(abi.String("l"))
	tests := []struct {
		name      string
		path      abi.Path
		results   int
		maxGets   int
		maxSeeks  int
		maxKeys   int
		maxPoints uint64
	}{
		{"sortedRange 100 in the middle", m.SortedRange(abi.Int(50_000), abi.Nil(), abi.RangeOpts{Limit: 100}).MapVals(), 100, 0, 1, 100, 110},
		{"sortedRange 100 bounded", m.SortedRange(abi.Int(70_000), abi.Int(70_100), abi.RangeOpts{}), 1, 0, 1, 100, 110},
		{"sortedRange 100 from the end", m.SortedRange(abi.Nil(), abi.Nil(), abi.RangeOpts{Limit: 100, Reverse: true}).MapKeys(), 100, 0, 1, 100, 110},
		{"size", m.View(abi.ViewSize), 1, 1, 0, 0, 0},
		{"point", m.Key(abi.Int(12_345)), 1, 1, 0, 0, 0},
		{"first", m.First(), 1, 0, 1, 1, 5},
		{"list size", l.View(abi.ViewSize), 1, 1, 0, 0, 0},
		{"list nth", l.Nth(77_777), 1, 2, 0, 0, 0},
		{"list last", l.Last(), 1, 2, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := db.pdb.NewSnapshot()
			defer snap.Close()
			e := newEngine(ps, 0, tc.path, snap, nil)
			vs, err := e.selectAll()
			if err != nil {
				t.Fatal(err)
			}
			st := e.stats
			t.Logf("%d results; %d gets, %d seeks, %d keys, %d points stepped by pebble", len(vs), st.gets, st.seeks, st.keys, st.points)
			if len(vs) != tc.results {
				t.Errorf("%d results, want %d", len(vs), tc.results)
			}
			if st.gets > tc.maxGets || st.seeks > tc.maxSeeks || st.keys > tc.maxKeys || st.points > tc.maxPoints {
				t.Errorf("read %+v; want at most %d gets, %d seeks, %d keys, %d points", st, tc.maxGets, tc.maxSeeks, tc.maxKeys, tc.maxPoints)
			}
		})
	}
	if v, err := db.SelectOne(ps, 0, l.Nth(77_777)); err != nil || !abi.Equal(v, abi.Int(77_777)) {
		t.Errorf("nth = %v, %v", v, err)
	}
	if v, err := db.SelectOne(ps, 0, m.Key(abi.Int(4))); err != nil || !abi.Equal(v, abi.Int(8)) {
		t.Errorf("key = %v, %v", v, err)
	}
}

func TestPStateSizeLimits(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ps, err := NewPState("m", "p", MapOf(Leaf(TypeString), Leaf(TypeAny)))
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	defer b.Close()
	long := abi.String(strings.Repeat("k", keyenc.MaxKeyLen))
	_, err = b.Transform(ps, 0, abi.P().Key(long).Set(abi.Int(1)))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bytes; the limit is 16384 bytes: use shorter keys") {
		t.Errorf("long key: %v", err)
	}
	if _, err := b.Select(ps, 0, abi.P().Key(long)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("select long key: %v", err)
	}
	big := abi.String(strings.Repeat("v", MaxValueSize))
	_, err = b.Transform(ps, 0, abi.P().Key(abi.String("k")).Set(big))
	var pe *PathError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &pe) || pe.Step != 1 ||
		!strings.Contains(err.Error(), `the value at $["k"] is 33554437 bytes; the limit is 33554432 bytes: keep large collections in a subindexed map, set or list`) {
		t.Errorf("big value: %v", err)
	}
	if b.pb.Count() != 0 {
		t.Errorf("refused writes left %d operations in the batch", b.pb.Count())
	}
	bad := abi.String("\xff")
	if _, err := b.Transform(ps, 0, abi.P().Key(abi.String("k")).Set(bad)); err == nil || !strings.Contains(err.Error(), "cannot be stored") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
