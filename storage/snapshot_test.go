package storage

import (
	"context"
	"testing"

	"github.com/squall-run/squall/abi"
)

// A snapshot sees a batch that commits after it was taken on no partition,
// and a new snapshot sees it on every partition.
func TestSnapshotSeesWholeBatches(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema, err := ParseSchema(abi.Map(abi.MapEntry{Key: abi.String("type"), Val: abi.String("map")},
		abi.MapEntry{Key: abi.String("key"), Val: abi.String("string")}, abi.MapEntry{Key: abi.String("val"), Val: abi.String("int")}))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := NewPState("m", "balances", schema)
	if err != nil {
		t.Fatal(err)
	}
	before, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	for p := range uint32(4) {
		if _, err := b.Transform(ps, p, abi.P().Key(abi.String("k")).Set(abi.Int(int64(p+1)))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	for p := range uint32(4) {
		vs, err := before.Select(ps, p, abi.P().Key(abi.String("k")))
		if err != nil || len(vs) != 1 || !vs[0].IsNil() {
			t.Fatalf("old snapshot, partition %d: %v %v", p, vs, err)
		}
		vs, err = after.Select(ps, p, abi.P().Key(abi.String("k")))
		if n, _ := vs[0].AsInt(); err != nil || n != int64(p+1) {
			t.Fatalf("new snapshot, partition %d: %v %v", p, vs, err)
		}
	}
	before.Close()
	before.Close()
	if _, err := before.Select(ps, 0, abi.P().Key(abi.String("k"))); err == nil {
		t.Fatal("a closed snapshot answered")
	}
	after.Close()
}

// Close closes the snapshots still open; their reads then fail.
func TestCloseClosesOpenSnapshots(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	schema, err := ParseSchema(abi.String("int"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := NewPState("m", "n", schema)
	if err != nil {
		t.Fatal(err)
	}
	s, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close with a snapshot open: %v", err)
	}
	if _, err := s.Select(ps, 0, abi.P()); err == nil {
		t.Fatal("a snapshot answered after Close")
	}
	s.Close()
	if _, err := db.NewSnapshot(); err == nil {
		t.Fatal("NewSnapshot after Close")
	}
}
