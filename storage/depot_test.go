package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/squall-run/squall/abi"
)

// mp returns the canonical MessagePack encoding of v.
func mp(t testing.TB, v abi.Value) []byte {
	t.Helper()
	b, err := abi.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseField turns a datadriven token into MessagePack: "hex:..." is taken
// as is, an integer becomes an int, "nil" nil, anything else a string.
func parseField(t testing.TB, s string) []byte {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "hex:"):
		b, err := hex.DecodeString(strings.ReplaceAll(s[4:], " ", ""))
		if err != nil {
			t.Fatalf("bad hex %q: %v", s, err)
		}
		return b
	case s == "nil":
		return mp(t, abi.Nil())
	case strings.HasPrefix(s, "big:"):
		n, err := strconv.Atoi(s[4:])
		if err != nil {
			t.Fatal(err)
		}
		return mp(t, abi.Bytes(make([]byte, n)))
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return mp(t, abi.Int(n))
	}
	return mp(t, abi.String(strings.Trim(s, `"`)))
}

// parseRecord parses "value" or "key | value".
func parseRecord(t testing.TB, line string) Record {
	if k, v, ok := strings.Cut(line, " | "); ok {
		return Record{Key: parseField(t, k), Value: parseField(t, v)}
	}
	return Record{Value: parseField(t, line)}
}

func showValue(b []byte) string {
	v, err := abi.Decode(b)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return v.String()
}

// stepClock returns a clock that advances by 1µs per call from 1µs (or,
// with back, goes backwards from 1ms).
func stepClock(back bool) func() time.Time {
	var mu sync.Mutex
	n := int64(0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		if back {
			return time.Unix(0, 1_000_000-1000*n)
		}
		return time.Unix(0, 1000*n)
	}
}

// TestDepot runs the datadriven scripts in testdata/depot. Commands:
//
//	open [clock=back]             (re)open the store in the test's directory
//	close
//	depot name=D [module=M] [max=N]
//	lookup name=D [module=M]
//	append name=D part=P [nosync]  one record per input line: "value" or "key | value"
//	read name=D part=P from=F limit=L [hex]
//	bounds name=D part=P
//	batch                          input lines: "append D P record", "progress T P value"
//	progress topo=T part=P [module=M]
//	drop-partition part=P [module=M]
//	drop-module [module=M]
func TestDepot(t *testing.T) {
	datadriven.Walk(t, "testdata/depot", func(t *testing.T, path string) {
		dir := t.TempDir()
		var db *DB
		defer func() {
			if db != nil {
				_ = db.Close()
			}
		}()
		depot := func(td *datadriven.TestData) (*Depot, error) {
			module := "m"
			td.MaybeScanArgs(t, "module", &module)
			var name string
			td.ScanArgs(t, "name", &name)
			return db.LookupDepot(module, name)
		}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			ctx := context.Background()
			module := "m"
			td.MaybeScanArgs(t, "module", &module)
			var part uint32
			td.MaybeScanArgs(t, "part", &part)
			switch td.Cmd {
			case "open":
				if db != nil {
					_ = db.Close()
				}
				var err error
				db, err = Open(dir, Options{Clock: stepClock(td.HasArg("back"))})
				if err != nil {
					return err.Error()
				}
				return "ok"
			case "close":
				return errString(db.Close())
			case "depot":
				var name string
				var max uint64
				td.ScanArgs(t, "name", &name)
				td.MaybeScanArgs(t, "max", &max)
				_, err := db.Depot(module, name, DepotOptions{MaxEntries: max})
				return errString(err)
			case "lookup":
				d, err := depot(td)
				if err != nil {
					return err.Error()
				}
				return fmt.Sprintf("%s/%s %+v", d.Module(), d.Name(), d.Options())
			case "append":
				d, err := depot(td)
				if err != nil {
					return err.Error()
				}
				var recs []Record
				for _, line := range strings.Split(td.Input, "\n") {
					if line != "" {
						recs = append(recs, parseRecord(t, line))
					}
				}
				var first uint64
				if td.HasArg("nosync") {
					first, err = d.AppendNoSync(ctx, part, recs...)
				} else {
					first, err = d.Append(ctx, part, recs...)
				}
				if err != nil {
					var de *abi.DecodeError
					if errors.As(err, &de) {
						return fmt.Sprintf("%v\n(DecodeError at byte %d)", err, de.Offset)
					}
					return err.Error()
				}
				return fmt.Sprintf("first=%d", first)
			case "read":
				d, err := depot(td)
				if err != nil {
					return err.Error()
				}
				var from uint64
				limit := 100
				td.ScanArgs(t, "from", &from)
				td.MaybeScanArgs(t, "limit", &limit)
				es, err := d.Read(part, from, limit)
				if err != nil {
					return err.Error()
				}
				var sb strings.Builder
				for _, e := range es {
					fmt.Fprintf(&sb, "%d t=%d", e.Offset, e.Time)
					if e.Key != nil {
						fmt.Fprintf(&sb, " key=%s", showValue(e.Key))
					}
					fmt.Fprintf(&sb, " value=%s", showValue(e.Value))
					if td.HasArg("hex") {
						fmt.Fprintf(&sb, " (%x)", e.Value)
					}
					sb.WriteByte('\n')
				}
				if sb.Len() == 0 {
					return "no entries"
				}
				return sb.String()
			case "bounds":
				d, err := depot(td)
				if err != nil {
					return err.Error()
				}
				first, next, err := d.Bounds(part)
				if err != nil {
					return err.Error()
				}
				return fmt.Sprintf("first=%d next=%d", first, next)
			case "batch":
				b := db.NewBatch()
				defer b.Close()
				for _, line := range strings.Split(td.Input, "\n") {
					f := strings.SplitN(line, " ", 4)
					if len(f) != 4 {
						t.Fatalf("bad batch line %q", line)
					}
					p, err := strconv.ParseUint(f[2], 10, 32)
					if err != nil {
						t.Fatal(err)
					}
					switch f[0] {
					case "append":
						d, err := db.LookupDepot(module, f[1])
						if err == nil {
							err = b.Append(d, uint32(p), parseRecord(t, f[3]))
						}
						if err != nil {
							return err.Error()
						}
					case "progress":
						if err := b.SetProgress(module, f[1], uint32(p), []byte(f[3])); err != nil {
							return err.Error()
						}
					default:
						t.Fatalf("bad batch line %q", line)
					}
				}
				res, err := b.Commit(ctx)
				if err != nil {
					return err.Error()
				}
				return fmt.Sprintf("offsets=%v", res.Offsets)
			case "progress":
				var topo string
				td.ScanArgs(t, "topo", &topo)
				v, ok, err := db.Progress(module, topo, part)
				switch {
				case err != nil:
					return err.Error()
				case !ok:
					return "none"
				}
				return string(v)
			case "drop-partition":
				return errString(db.DropPartition(module, part))
			case "drop-module":
				return errString(db.DropModule(module))
			}
			t.Fatalf("unknown command %q", td.Cmd)
			return ""
		})
	})
}

func errString(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestDepotAppendErrors checks the errors of rejected appends, and that a
// rejected append writes nothing.
func TestDepotAppendErrors(t *testing.T) {
	db := openTest(t)
	d, err := db.Depot("m", "d", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ok := Record{Value: mp(t, abi.String("ok"))}
	tests := []struct {
		name   string
		recs   []Record
		want   string
		offset int // of the *abi.DecodeError, or -1
		is     error
	}{
		{"no records", nil, "storage: depot m/d partition 3: Append needs at least one record", -1, nil},
		{"empty value", []Record{ok, {}}, "storage: depot m/d partition 3 record 1 value: abi: decode: byte offset 0: empty input; a record value is one MessagePack value (nil is the byte 0xc0)", 0, nil},
		{"reserved byte in key", []Record{{Key: []byte{0x92, 0x01, 0xc1}, Value: ok.Value}}, "storage: depot m/d partition 3 record 0 key: abi: decode: byte offset 2: invalid byte 0xc1 (never used)", 2, nil},
		{"trailing bytes", []Record{ok, ok, {Value: []byte{0x01, 0x02}}}, "storage: depot m/d partition 3 record 2 value: abi: decode: byte offset 1: trailing bytes after value (1 bytes)", 1, nil},
		{"too large", []Record{{Value: make([]byte, MaxRecordSize+1)}}, "storage: depot m/d partition 3 record 0: the record is 16777217 bytes; the limit is 16777216: keep large blobs outside the depot and append a reference", -1, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Append(context.Background(), 3, tc.recs...)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
			var de *abi.DecodeError
			if errors.As(err, &de) != (tc.offset >= 0) || tc.offset >= 0 && de.Offset != tc.offset {
				t.Errorf("DecodeError %v, want offset %d", de, tc.offset)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v) = false", tc.is)
			}
		})
	}
	if first, next, err := d.Bounds(3); err != nil || first != 0 || next != 0 {
		t.Fatalf("bounds after rejected appends = %d, %d, %v; want 0, 0", first, next, err)
	}
}

// TestDepotNames checks name validation and unknown depots.
func TestDepotNames(t *testing.T) {
	db := openTest(t)
	tests := []struct{ module, name, want string }{
		{"", "d", "storage: module name is empty"},
		{"m", "1d", `storage: depot name "1d" has "1" at byte 0; use letters, digits, '_', '-', '.', '$' and start with a letter, '_' or '$'`},
		{"m", "a\x00b", `storage: depot name "a\x00b" has "\x00" at byte 1; use letters, digits, '_', '-', '.', '$' and start with a letter, '_' or '$'`},
	}
	for _, tc := range tests {
		if _, err := db.Depot(tc.module, tc.name, DepotOptions{}); err == nil || err.Error() != tc.want {
			t.Errorf("Depot(%q, %q) = %v, want %s", tc.module, tc.name, err, tc.want)
		}
	}
	_, err := db.LookupDepot("m", "nope")
	if want := `storage: module "m" has no depot "nope"; declare it first (DB.Depot)`; err == nil || err.Error() != want {
		t.Errorf("LookupDepot = %v, want %s", err, want)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupDepot error does not match ErrNotFound")
	}
}

// TestDepotClosed checks that every operation of a closed store fails with
// ErrClosed.
func TestDepotClosed(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Depot("m", "d", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Value: mp(t, abi.Int(1))}
	if _, err := d.Append(context.Background(), 0, rec); err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	nb := db.NewBatch()
	nbErr := nb.SetProgress("m", "t", 0, nil)
	nb.Close()
	_, appendErr := d.Append(context.Background(), 0, rec)
	_, readErr := d.Read(0, 0, 1)
	_, _, boundsErr := d.Bounds(0)
	_, depotErr := db.Depot("m", "e", DepotOptions{})
	_, _, progressErr := db.Progress("m", "t", 0)
	batchErr := b.Append(d, 0, rec)
	_, commitErr := b.Commit(context.Background())
	b.Close()
	for name, err := range map[string]error{
		"Append": appendErr, "Read": readErr, "Bounds": boundsErr, "Depot": depotErr, "Progress": progressErr,
		"Batch.Append": batchErr, "NewBatch after Close": nbErr, "Batch.Commit": commitErr, "Close": db.Close(), "DropModule": db.DropModule("m"),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestDepotHammer appends from many goroutines to a few partitions and
// checks that offsets are unique, dense and in each appender's order, and
// that every record is where its offset says.
func TestDepotHammer(t *testing.T) {
	const goroutines, perG, parts = 32, 50, 3
	db := openTest(t)
	d, err := db.Depot("m", "d", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type ack struct {
		g, i  int
		first uint64
		n     int
	}
	acks := make(chan ack, goroutines*perG)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range perG {
				n := 1 + (g+i)%3 // 1 to 3 records per call
				recs := make([]Record, n)
				for j := range recs {
					recs[j] = Record{Value: mp(t, abi.List(abi.Int(int64(g)), abi.Int(int64(i)), abi.Int(int64(j))))}
				}
				first, err := d.Append(context.Background(), uint32(g%parts), recs...)
				if err != nil {
					t.Error(err)
					return
				}
				acks <- ack{g, i, first, n}
			}
		})
	}
	close(start)
	// Meanwhile, readers must only ever see dense prefixes.
	stopRead := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			select {
			case <-stopRead:
				return
			default:
			}
			for p := range uint32(parts) {
				first, next, err := d.Bounds(p)
				if err != nil {
					t.Error(err)
					return
				}
				es, err := d.Read(p, first, int(next-first)+1)
				if err != nil {
					t.Error(err)
					return
				}
				if uint64(len(es)) < next-first {
					t.Errorf("partition %d: read %d entries of [%d, %d)", p, len(es), first, next)
				}
			}
		}
	})
	wg.Wait()
	close(stopRead)
	rwg.Wait()
	close(acks)

	type loc struct {
		p   uint32
		off uint64
	}
	seen := map[loc]string{}
	last := map[int]uint64{}
	total := map[uint32]uint64{}
	for a := range acks {
		p := uint32(a.g % parts)
		if prev, ok := last[a.g]; ok && a.first <= prev {
			t.Errorf("goroutine %d: append %d got offset %d after %d", a.g, a.i, a.first, prev)
		}
		last[a.g] = a.first
		for j := range a.n {
			l := loc{p, a.first + uint64(j)}
			want := fmt.Sprintf("[%d, %d, %d]", a.g, a.i, j)
			if other, dup := seen[l]; dup {
				t.Fatalf("offset %v assigned twice: %s and %s", l, other, want)
			}
			seen[l] = want
		}
		total[p] += uint64(a.n)
	}
	for p := range uint32(parts) {
		first, next, err := d.Bounds(p)
		if err != nil || first != 0 || next != total[p] {
			t.Fatalf("partition %d bounds %d, %d, %v; want 0, %d", p, first, next, err, total[p])
		}
		for from := uint64(0); from < next; {
			es, err := d.Read(p, from, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if got, want := showValue(e.Value), seen[loc{p, e.Offset}]; got != want {
					t.Fatalf("partition %d offset %d holds %s, want %s", p, e.Offset, got, want)
				}
			}
			from += uint64(len(es))
		}
	}
}

// TestDepotTrimConcurrentRead trims while reading and checks that readers
// see either a dense range or ErrTrimmed.
func TestDepotTrimConcurrentRead(t *testing.T) {
	db := openTest(t)
	d, err := db.Depot("m", "d", DepotOptions{MaxEntries: 20})
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Value: mp(t, abi.String("x"))}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for range 300 {
			if _, err := d.Append(context.Background(), 0, rec, rec); err != nil {
				t.Error(err)
				return
			}
		}
	})
	trimmed := 0
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		first, next, err := d.Bounds(0)
		if err != nil {
			t.Fatal(err)
		}
		if next-first > 20+20/16+2 {
			t.Fatalf("bounds [%d, %d) hold more than MaxEntries + slack", first, next)
		}
		es, err := d.Read(0, first, 100)
		switch {
		case errors.Is(err, ErrTrimmed):
			trimmed++
		case err != nil:
			t.Fatal(err)
		default:
			for i, e := range es {
				if e.Offset != first+uint64(i) {
					t.Fatalf("entry %d has offset %d, want %d", i, e.Offset, first+uint64(i))
				}
			}
		}
	}
	wg.Wait()
	t.Logf("%d reads raced with trimming", trimmed)
}

// TestDropWhileReading drops a partition under concurrent readers, which
// must see the records or nothing, never a damaged partition.
func TestDropWhileReading(t *testing.T) {
	db := openTest(t)
	d, err := db.Depot("m", "d", DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]Record, 500)
	for i := range recs {
		recs[i] = Record{Value: mp(t, abi.Int(int64(i)))}
	}
	for round := range 5 {
		if _, err := d.Append(context.Background(), 0, recs...); err != nil {
			t.Fatal(err)
		}
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
					es, err := d.Read(0, 0, 1000)
					if err != nil && !errors.Is(err, ErrOutOfRange) {
						t.Errorf("round %d: %v", round, err)
						return
					}
					for i, e := range es {
						if e.Offset != uint64(i) {
							t.Errorf("round %d: entry %d has offset %d", round, i, e.Offset)
							return
						}
					}
				}
			})
		}
		if err := db.DropPartition("m", 0); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if first, next, _ := d.Bounds(0); first != 0 || next != 0 {
			t.Fatalf("bounds after drop: %d, %d", first, next)
		}
	}
}
