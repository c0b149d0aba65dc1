package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
)

// Record is one depot record: MessagePack values as the ABI defines them.
//
// Appends accept any well-formed MessagePack and store its canonical form
// (see package abi), so reads return canonical bytes.
type Record struct {
	// Key is the value the record was partitioned by, or empty when it has
	// none.
	Key []byte
	// Value is the record itself. It is required: MessagePack nil is the
	// one byte 0xc0.
	Value []byte
}

// Entry is a record read back from a depot partition.
type Entry struct {
	Offset uint64
	// Time is the append time in Unix nanoseconds: the committer's clock
	// when the record's group was committed. It never decreases within a
	// partition.
	Time int64
	Record
}

// DepotOptions configures a depot. The zero value keeps every record.
type DepotOptions struct {
	// MaxEntries is the number of records each partition retains; older
	// ones are trimmed (deleted) by the committer. A partition may exceed
	// it by up to MaxEntries/16 before it is trimmed back to MaxEntries,
	// so that trimming happens in chunks. 0 keeps everything.
	MaxEntries uint64
}

// Depot is a durable, partitioned, append-only log. Each partition assigns
// its records dense offsets 0, 1, 2, ... in the order they are committed.
//
// A Depot is safe for concurrent use. It stays valid until its DB is closed.
type Depot struct {
	db           *DB
	module, name string
	maxEntries   atomic.Uint64

	loadMu sync.Mutex // serializes partition loads (and drops)
	parts  sync.Map   // uint32 → *depotPart
}

// depotBounds is an immutable pair of published partition bounds.
type depotBounds struct{ first, next uint64 }

// depotPart is the in-memory state of one depot partition.
type depotPart struct {
	d         *Depot
	partition uint32
	logPrefix []byte // prefix of the record keys
	metaKey   []byte

	// Owned by the committer once the partition is loaded.
	first, next uint64 // bounds including the group being committed
	lastTS      int64  // the append time of the last record
	epoch       uint64 // the last group that touched the partition

	// bounds is what readers see: updated only after a group is durable
	// (first may move early, when records are about to be trimmed).
	bounds atomic.Pointer[depotBounds]
}

// recordKey returns the key of the record at off.
func (p *depotPart) recordKey(off uint64) []byte {
	k := make([]byte, len(p.logPrefix)+8)
	n := copy(k, p.logPrefix)
	binary.BigEndian.PutUint64(k[n:], off)
	return k
}

// Depot declares the depot name of module and returns it. Declaring a depot
// again returns the same *Depot and applies opts to it, so options can be
// changed while the depot is in use (they take effect at the next commit).
// Depots are declared per DB instance: declare them again after Open.
func (db *DB) Depot(module, name string, opts DepotOptions) (*Depot, error) {
	if err := ValidateName("module name", module); err != nil {
		return nil, err
	}
	if err := ValidateName("depot name", name); err != nil {
		return nil, err
	}
	if db.closed.Load() {
		return nil, ErrClosed
	}
	db.depotsMu.Lock()
	defer db.depotsMu.Unlock()
	id := module + "\x00" + name
	d := db.depots[id]
	if d == nil {
		d = &Depot{db: db, module: module, name: name}
		db.depots[id] = d
	}
	d.maxEntries.Store(opts.MaxEntries)
	return d, nil
}

// LookupDepot returns a depot declared with [DB.Depot], or a
// [*NotFoundError] naming it.
func (db *DB) LookupDepot(module, name string) (*Depot, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	db.depotsMu.Lock()
	d := db.depots[module+"\x00"+name]
	db.depotsMu.Unlock()
	if d == nil {
		return nil, &NotFoundError{Kind: "depot", Module: module, Name: name}
	}
	return d, nil
}

// Module returns the depot's module name.
func (d *Depot) Module() string { return d.module }

// Name returns the depot's name.
func (d *Depot) Name() string { return d.name }

// Options returns the depot's current options.
func (d *Depot) Options() DepotOptions { return DepotOptions{MaxEntries: d.maxEntries.Load()} }

// part returns the state of one partition, loading its bounds from the meta
// record on first use. The caller holds the DB's read guard.
func (d *Depot) part(partition uint32) (*depotPart, error) {
	if v, ok := d.parts.Load(partition); ok {
		return v.(*depotPart), nil
	}
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	if v, ok := d.parts.Load(partition); ok {
		return v.(*depotPart), nil
	}
	p := &depotPart{
		d:         d,
		partition: partition,
		logPrefix: objectPrefix(nil, d.module, partition, kindDepot, d.name),
		metaKey:   objectPrefix(nil, d.module, partition, kindDepotMeta, d.name),
	}
	v, closer, err := d.db.pdb.Get(p.metaKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("storage: depot %s/%s partition %d: read bounds: %w", d.module, d.name, partition, err)
	default:
		p.first, p.next, p.lastTS, err = decodeDepotMeta(v)
		_ = closer.Close()
		if err != nil {
			return nil, fmt.Errorf("storage: depot %s/%s partition %d: %w; the store is damaged", d.module, d.name, partition, err)
		}
	}
	p.bounds.Store(&depotBounds{first: p.first, next: p.next})
	d.parts.Store(partition, p)
	return p, nil
}

// Append appends recs to a partition and returns the offset of the first;
// the others follow it densely (first+1, first+2, ...). It returns once the
// records are durable (their write-ahead-log entry synced, shared with
// concurrent writers) and visible to Read.
//
// Every record is validated first; if one is rejected (a [*RecordError]),
// nothing is written. When ctx ends while the append is queued or being
// committed, Append returns the context's error, and the records may still
// be committed: as with any failed acknowledgment, retrying may duplicate
// them.
//
// Append is safe for concurrent use. Appends to one partition are ordered
// as the committer dequeues them; records of one call are never interleaved
// with others.
func (d *Depot) Append(ctx context.Context, partition uint32, recs ...Record) (first uint64, err error) {
	return d.append(ctx, partition, true, recs)
}

// AppendNoSync is [Depot.Append] without waiting for a WAL sync (unless a
// concurrent durable writer shares the group commit). It returns once the
// records are written and visible. A crash may lose records appended this
// way, and their offsets are then assigned again to later records.
func (d *Depot) AppendNoSync(ctx context.Context, partition uint32, recs ...Record) (first uint64, err error) {
	return d.append(ctx, partition, false, recs)
}

func (d *Depot) append(ctx context.Context, partition uint32, sync bool, recs []Record) (uint64, error) {
	if len(recs) == 0 {
		return 0, fmt.Errorf("storage: depot %s/%s partition %d: Append needs at least one record", d.module, d.name, partition)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := d.db.beginRead(); err != nil {
		return 0, err
	}
	p, err := d.part(partition)
	d.db.endRead()
	if err != nil {
		return 0, err
	}
	r := getReq()
	r.sync = sync
	for i := range recs {
		if r.buf, err = r.addRecord(p, i, &recs[i]); err != nil {
			putReq(r)
			return 0, err
		}
	}
	if len(r.buf) > MaxBatchSize {
		putReq(r)
		return 0, fmt.Errorf("storage: depot %s/%s partition %d: %w", d.module, d.name, partition,
			&sizeError{what: "the append", size: len(r.buf), limit: MaxBatchSize, fix: "append fewer records per call"})
	}
	finished, err := d.db.submit(ctx, r)
	if !finished {
		return 0, err // r belongs to the committer now
	}
	first := r.first
	putReq(r)
	if err != nil {
		return 0, err
	}
	return first, nil
}

// addRecord validates rec (record idx of its append or batch), adds its
// canonical key and value to r.buf and queues it for partition p. On error
// r is unchanged.
func (r *commitReq) addRecord(p *depotPart, idx int, rec *Record) ([]byte, error) {
	fail := func(field string, err error) ([]byte, error) {
		return r.buf, &RecordError{Module: p.d.module, Depot: p.d.name, Partition: p.partition, Index: idx, Field: field, Err: err}
	}
	if n := len(rec.Key) + len(rec.Value); n > MaxRecordSize {
		return fail("", &sizeError{what: "the record", size: n, limit: MaxRecordSize, fix: "keep large blobs outside the depot and append a reference"})
	}
	buf := r.buf
	start := len(buf)
	var err error
	if len(rec.Key) > 0 {
		if buf, err = appendCanonical(buf, rec.Key); err != nil {
			return fail("key", err)
		}
	}
	klen := len(buf) - start
	if len(rec.Value) == 0 {
		return fail("value", &abi.DecodeError{Offset: 0, Msg: "empty input; a record value is one MessagePack value (nil is the byte 0xc0)"})
	}
	if buf, err = appendCanonical(buf, rec.Value); err != nil {
		return fail("value", err)
	}
	vlen := len(buf) - start - klen
	if n := klen + vlen; n > MaxRecordSize {
		return fail("", &sizeError{what: "the record (canonically encoded)", size: n, limit: MaxRecordSize, fix: "keep large blobs outside the depot and append a reference"})
	}
	r.appends = append(r.appends, pendingAppend{part: p, klen: uint32(klen), vlen: uint32(vlen)})
	return buf, nil
}

// appendCanonical validates the MessagePack value b and appends its
// canonical encoding to dst. On error it returns dst unchanged.
func appendCanonical(dst, b []byte) ([]byte, error) {
	if isCanonicalFast(b) {
		return append(dst, b...), nil
	}
	v, err := abi.Decode(b)
	if err != nil {
		return dst, err
	}
	out, err := abi.AppendEncode(dst, v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// maxReadBytes is where Read stops adding entries (it returns at least one).
const maxReadBytes = 4 << 20

// Read returns up to limit records of a partition starting at offset from,
// in offset order. It returns fewer when it reaches the partition's next
// offset or after about 4 MiB of records (always at least one record when
// from < next); continue from the last offset + 1. Reading at the next
// offset returns no entries.
//
// Reading below the first retained offset fails with an [*OffsetError]
// matching [ErrTrimmed] (its First field says where to resume); reading past
// the next offset fails with one matching [ErrOutOfRange]. A Read never
// returns records that are not yet durable (or, for [Depot.AppendNoSync],
// not yet written), and never returns offset N+1 unless it also could
// return N.
//
// Read is safe for concurrent use, also with appends to the same partition.
// The returned entries are the caller's.
func (d *Depot) Read(partition uint32, from uint64, limit int) ([]Entry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("storage: depot %s/%s partition %d: Read limit is %d; it must be at least 1", d.module, d.name, partition, limit)
	}
	if err := d.db.beginRead(); err != nil {
		return nil, err
	}
	defer d.db.endRead()
	p, err := d.part(partition)
	if err != nil {
		return nil, err
	}
	b := p.bounds.Load()
	if from < b.first || from > b.next {
		return nil, d.offsetError(p, from, b)
	}
	end := b.next
	if uint64(limit) < end-from {
		end = from + uint64(limit)
	}
	if end == from {
		return nil, nil
	}
	it, err := d.db.pdb.NewIter(&pebble.IterOptions{LowerBound: p.recordKey(from), UpperBound: p.recordKey(end)})
	if err != nil {
		return nil, fmt.Errorf("storage: depot %s/%s partition %d: read: %w", d.module, d.name, partition, err)
	}
	defer it.Close()
	entries := make([]Entry, 0, min(end-from, 1024))
	want, bytes := from, 0
	for ok := it.First(); ok && bytes < maxReadBytes; ok = it.Next() {
		k := it.Key()
		if len(k) != len(p.logPrefix)+8 || binary.BigEndian.Uint64(k[len(p.logPrefix):]) != want {
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("storage: depot %s/%s partition %d offset %d: read: %w", d.module, d.name, partition, want, err)
		}
		e, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("storage: depot %s/%s partition %d offset %d: %w; the store is damaged", d.module, d.name, partition, want, err)
		}
		e.Offset = want
		entries = append(entries, e)
		bytes += len(v)
		want++
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("storage: depot %s/%s partition %d: read: %w", d.module, d.name, partition, err)
	}
	if want == from || (want < end && bytes < maxReadBytes) {
		// A record the bounds promised is missing. Trimming (which moves
		// first before it deletes) or a drop explains that; otherwise the
		// store is damaged.
		if b := p.bounds.Load(); want < b.first || want >= b.next {
			// The bounds moved past the missing record meanwhile.
			if from < b.first || from > b.next {
				return nil, d.offsetError(p, from, b)
			}
			// A drop emptied the partition (and appends may have begun
			// again): what was read existed when the read began.
			return entries, nil
		}
		return nil, fmt.Errorf("storage: depot %s/%s partition %d: offset %d is missing though the partition holds [%d, %d); the store is damaged",
			d.module, d.name, partition, want, b.first, b.next)
	}
	return entries, nil
}

func (d *Depot) offsetError(p *depotPart, off uint64, b *depotBounds) error {
	return &OffsetError{Module: d.module, Depot: d.name, Partition: p.partition, Offset: off, First: b.first, Next: b.next}
}

// Bounds returns the first retained offset of a partition and the next
// offset to be assigned; the partition holds next-first records. A partition
// never appended to has bounds (0, 0). Bounds is O(1) after a partition's
// first use and safe for concurrent use.
func (d *Depot) Bounds(partition uint32) (first, next uint64, err error) {
	if err := d.db.beginRead(); err != nil {
		return 0, 0, err
	}
	defer d.db.endRead()
	p, err := d.part(partition)
	if err != nil {
		return 0, 0, err
	}
	b := p.bounds.Load()
	return b.first, b.next, nil
}

// Stored forms.
//
// A depot record's value is
//
//	0x01 | append time (int64 Unix nanos, BE) | uvarint len(key) | key | value
//
// and a depot partition's meta record is
//
//	0x01 | first (u64 BE) | next (u64 BE) | last append time (int64 BE)
const (
	recordVersion   = 1
	depotMetaVerion = 1
	depotMetaLen    = 1 + 8 + 8 + 8
)

func recordHeaderLen(klen int) int {
	n := 1 + 8 + 1
	for x := uint64(klen); x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// putRecordHeader writes the header of a record into dst, which has room
// for it, and returns its length.
func putRecordHeader(dst []byte, ts int64, klen int) int {
	dst[0] = recordVersion
	binary.BigEndian.PutUint64(dst[1:], uint64(ts))
	return 9 + binary.PutUvarint(dst[9:], uint64(klen))
}

// decodeRecord parses a stored record, copying its key and value.
func decodeRecord(v []byte) (Entry, error) {
	if len(v) < 10 || v[0] != recordVersion {
		return Entry{}, fmt.Errorf("malformed depot record (%d bytes)", len(v))
	}
	ts := int64(binary.BigEndian.Uint64(v[1:]))
	klen, n := binary.Uvarint(v[9:])
	if n <= 0 || klen > uint64(len(v)-9-n) {
		return Entry{}, fmt.Errorf("malformed depot record header (%d bytes)", len(v))
	}
	data := append([]byte(nil), v[9+n:]...)
	e := Entry{Time: ts}
	if klen > 0 {
		e.Key = data[:klen:klen]
	}
	e.Value = data[klen:]
	return e, nil
}

func encodeDepotMeta(first, next uint64, lastTS int64) []byte {
	b := make([]byte, depotMetaLen)
	b[0] = depotMetaVerion
	binary.BigEndian.PutUint64(b[1:], first)
	binary.BigEndian.PutUint64(b[9:], next)
	binary.BigEndian.PutUint64(b[17:], uint64(lastTS))
	return b
}

func decodeDepotMeta(b []byte) (first, next uint64, lastTS int64, err error) {
	if len(b) != depotMetaLen || b[0] != depotMetaVerion {
		return 0, 0, 0, fmt.Errorf("malformed depot meta record (%d bytes)", len(b))
	}
	first = binary.BigEndian.Uint64(b[1:])
	next = binary.BigEndian.Uint64(b[9:])
	lastTS = int64(binary.BigEndian.Uint64(b[17:]))
	if first > next {
		return 0, 0, 0, fmt.Errorf("depot meta record has first offset %d > next offset %d", first, next)
	}
	return first, next, lastTS, nil
}
