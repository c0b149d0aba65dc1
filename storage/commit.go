package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Size limits.
const (
	// MaxRecordSize bounds one depot record (key and value together, in
	// their canonical encoding).
	MaxRecordSize = 16 << 20

	// MaxBatchSize bounds what one call to Depot.Append or Batch.Commit
	// writes: records, PState changes and progress together.
	MaxBatchSize = 256 << 20

	// maxGroupBytes is where the committer stops adding queued writes to a
	// group; the rest go into the next group. A single larger write still
	// forms a group of its own.
	maxGroupBytes = 64 << 20
)

// reqKind is what a commitReq asks for.
type reqKind uint8

const (
	reqAppend reqKind = iota // Depot.Append: records of one partition
	reqBatch                 // Batch.Commit: a Pebble batch plus records
	reqDrop                  // DropPartition / DropModule
)

// pendingAppend is one record waiting for its offset: its canonical key and
// value are the next klen+vlen bytes of the request's buf.
type pendingAppend struct {
	part       *depotPart
	klen, vlen uint32
}

// commitReq is one unit of work for the committer. The writer fills it,
// queues it and waits on done; the committer fills first/offsets/err and
// signals done exactly once (or Close does, with ErrClosed).
type commitReq struct {
	kind    reqKind
	sync    bool
	appends []pendingAppend
	buf     []byte        // canonical keys and values of appends, in order
	pb      *pebble.Batch // reqBatch: the batch's own writes; closed by finish

	// reqDrop: the key ranges to delete, and which depot partitions reset.
	dropRanges [][2][]byte
	dropModule string
	dropAll    bool // every partition of dropModule
	dropPart   uint32

	size int // bytes, for group sizing

	// Results.
	first   uint64   // offset of appends[0]
	offsets []uint64 // reqBatch: offset of each append
	err     error
	done    chan struct{} // buffered(1)
}

// finish records the outcome and wakes the writer.
func (r *commitReq) finish(err error) {
	r.err = err
	if r.pb != nil {
		_ = r.pb.Close()
		r.pb = nil
	}
	r.done <- struct{}{}
}

var reqPool = sync.Pool{New: func() any { return &commitReq{done: make(chan struct{}, 1)} }}

// getReq returns an empty request from the pool.
func getReq() *commitReq {
	r := reqPool.Get().(*commitReq)
	r.kind, r.sync, r.err, r.first, r.size = reqAppend, true, nil, 0, 0
	r.appends = r.appends[:0]
	r.buf = r.buf[:0]
	return r
}

// putReq returns a finished request to the pool. A request abandoned by its
// writer (context cancelled while queued) is never returned: the committer
// may still use it.
func putReq(r *commitReq) {
	if cap(r.buf) > 1<<20 {
		r.buf = nil
	}
	clear(r.appends[:cap(r.appends)])
	reqPool.Put(r)
}

// submit queues r and waits until it is committed or failed, or ctx is done.
// It reports whether r was finished (and may be reused); when ctx ends first
// the write may still be committed later, and r belongs to the committer.
func (db *DB) submit(ctx context.Context, r *commitReq) (finished bool, err error) {
	r.size = len(r.buf) + len(r.appends)*(16+partKeyOverhead)
	if r.pb != nil {
		r.size += len(r.pb.Repr())
	}
	db.qmu.Lock()
	if err := db.failed; db.qclosed || err != nil {
		if db.qclosed {
			err = ErrClosed
		}
		db.qmu.Unlock()
		if r.pb != nil {
			_ = r.pb.Close()
			r.pb = nil
		}
		return true, err
	}
	db.queue = append(db.queue, r)
	db.qmu.Unlock()
	select {
	case db.kick <- struct{}{}:
	default:
	}
	if done := ctx.Done(); done != nil {
		select {
		case <-r.done:
			return true, r.err
		case <-done:
			return false, fmt.Errorf("storage: stopped waiting for the commit (it may still happen): %w", ctx.Err())
		}
	}
	<-r.done
	return true, r.err
}

// partKeyOverhead estimates the bytes of a depot record key beyond the
// record itself, for group sizing.
const partKeyOverhead = 48

// maxInflight bounds the groups applied to Pebble whose WAL sync has not
// been confirmed yet.
const maxInflight = 16

// committer is the state of the DB's committer goroutine, which builds and
// applies groups, and of its syncer goroutine, which waits for each group's
// WAL sync, in order, and then publishes it.
//
// The committer never waits for a sync: it applies group k (Pebble assigns
// sequence numbers in that order and writes it to the WAL) and hands it to
// the syncer, then builds group k+1 from what queued meanwhile. Pebble's
// WAL writer syncs everything written since its last sync at once, so
// concurrent groups share fsyncs. The syncer publishes groups strictly in
// order, so offsets become visible in order and only once durable.
type committer struct {
	db      *DB
	group   []*commitReq
	touched []*depotPart
	epoch   uint64

	syncq      chan *inflight // committer → syncer, in commit order
	free       chan *inflight // syncer → committer: reusable slots
	syncerDone chan struct{}

	// Statistics, for benchmarks: groups committed and requests in them.
	groups, reqs uint64
}

// inflight is a group applied to Pebble, waiting for its WAL sync.
type inflight struct {
	gb     *pebble.Batch
	sync   bool
	reqs   []*commitReq
	bounds []partBounds // the partitions' bounds after the group
}

type partBounds struct {
	p           *depotPart
	first, next uint64
}

// run is the committer goroutine: it commits groups until Close, then stops
// the syncer.
func (c *committer) run() {
	defer close(c.db.exited)
	c.syncq = make(chan *inflight, maxInflight)
	c.free = make(chan *inflight, maxInflight)
	for range maxInflight {
		c.free <- &inflight{}
	}
	c.syncerDone = make(chan struct{})
	go c.syncer()
	defer func() {
		close(c.syncq)
		<-c.syncerDone
	}()
	for {
		select {
		case <-c.db.kick:
		case <-c.db.stop:
			return
		}
		for c.take() {
			c.commitGroup()
		}
	}
}

// take moves queued requests into c.group, up to maxGroupBytes (at least
// one), and reports whether there were any.
func (c *committer) take() bool {
	db := c.db
	db.qmu.Lock()
	// A drop forms a group of its own, so that the partitions it resets
	// are not appended to in the same group.
	n, size := 0, 0
	for n < len(db.queue) {
		r := db.queue[n]
		if n > 0 && (size+r.size > maxGroupBytes || r.kind == reqDrop) {
			break
		}
		size += r.size
		n++
		if r.kind == reqDrop {
			break
		}
	}
	c.group = append(c.group[:0], db.queue[:n]...)
	rest := copy(db.queue, db.queue[n:])
	clear(db.queue[rest:])
	db.queue = db.queue[:rest]
	db.qmu.Unlock()
	return n > 0
}

// commitGroup builds c.group into one Pebble batch, applies it and hands it
// to the syncer.
func (c *committer) commitGroup() {
	db := c.db
	f := <-c.free // waits while maxInflight groups await their sync
	f.bounds = f.bounds[:0]
	gb := db.pdb.NewBatch()
	sync := false
	if c.group[0].kind == reqDrop {
		// Drain the pipeline, so that no earlier group publishes bounds
		// after the drop hides the partitions.
		idle := make([]*inflight, 0, maxInflight-1)
		for range maxInflight - 1 {
			idle = append(idle, <-c.free)
		}
		defer func() {
			for _, g := range idle {
				c.free <- g
			}
		}()
		locked := c.buildDrop(gb, c.group[0])
		defer func() {
			for _, d := range locked {
				d.loadMu.Unlock()
			}
		}()
		sync = true
	} else {
		c.epoch++
		c.touched = c.touched[:0]
		now := db.clock().UnixNano()
		for _, r := range c.group {
			sync = sync || r.sync
			if r.kind == reqBatch {
				if err := gb.Apply(r.pb, nil); err != nil {
					// Only a malformed batch representation fails, which
					// the Batch API cannot produce. Offsets were assigned
					// to earlier requests of the group: the committer's
					// state no longer matches the store, so fail it all.
					_ = gb.Close()
					c.failGroup(db.setFailed(fmt.Errorf("merge a batch into the group commit: %w", err)))
					c.free <- f
					return
				}
			}
			c.assign(gb, r, now)
		}
		for _, p := range c.touched {
			c.trimAndSaveMeta(gb, p)
			f.bounds = append(f.bounds, partBounds{p, p.first, p.next})
		}
	}
	var err error
	if sync {
		err = db.pdb.ApplyNoSyncWait(gb, pebble.Sync)
	} else {
		err = db.pdb.Apply(gb, pebble.NoSync)
	}
	if err != nil {
		// The batch is not closed: after a failed ApplyNoSyncWait, Pebble
		// may still hold it.
		c.failGroup(db.setFailed(err))
		c.free <- f
		return
	}
	c.groups++
	c.reqs += uint64(len(c.group))
	f.gb, f.sync = gb, sync
	f.reqs = append(f.reqs[:0], c.group...)
	clear(c.group)
	c.syncq <- f
}

// syncer is the goroutine that waits for the WAL sync of each applied
// group, in order, then publishes its depot bounds and acknowledges its
// writers.
func (c *committer) syncer() {
	defer close(c.syncerDone)
	db := c.db
	for f := range c.syncq {
		var err error
		if f.sync {
			err = f.gb.SyncWait()
		}
		if err == nil {
			db.qmu.Lock()
			err = db.failed // an earlier group failed: this one is suspect
			db.qmu.Unlock()
		} else {
			err = db.setFailed(err)
		}
		if err == nil {
			for _, b := range f.bounds {
				b.p.publish(b.first, b.next)
			}
		}
		for i, r := range f.reqs {
			r.finish(err)
			f.reqs[i] = nil
		}
		_ = f.gb.Close()
		f.gb = nil
		c.free <- f
	}
}

// setFailed records that a write to Pebble failed and returns the error
// every write gets from now on.
func (db *DB) setFailed(err error) error {
	db.qmu.Lock()
	defer db.qmu.Unlock()
	if db.failed == nil {
		db.failed = fmt.Errorf("%w: commit to %s: %v", ErrFailed, db.dir, err)
	}
	return db.failed
}

// publish makes new bounds visible to readers. Bounds only grow (a drop
// resets them with a plain store), whichever of the committer (moving first
// early for a trim) and the syncer publishes last.
func (p *depotPart) publish(first, next uint64) {
	for {
		cur := p.bounds.Load()
		nb := depotBounds{first: max(cur.first, first), next: max(cur.next, next)}
		if nb == *cur || p.bounds.CompareAndSwap(cur, &nb) {
			return
		}
	}
}

// failGroup fails every request of the group with err.
func (c *committer) failGroup(err error) {
	for i, r := range c.group {
		r.finish(err)
		c.group[i] = nil
	}
}

// touch adds p to the partitions changed by this group.
func (c *committer) touch(p *depotPart) {
	if p.epoch != c.epoch {
		p.epoch = c.epoch
		c.touched = append(c.touched, p)
	}
}

// assign gives the appends of r their offsets, in order, and adds the
// records to gb.
func (c *committer) assign(gb *pebble.Batch, r *commitReq, now int64) {
	if r.kind == reqBatch {
		r.offsets = r.offsets[:0]
	}
	pos := 0
	for i, a := range r.appends {
		p := a.part
		if p.epoch != c.epoch {
			c.touch(p)
			p.lastTS = max(p.lastTS, now)
		}
		off := p.next
		p.next++
		if i == 0 {
			r.first = off
		}
		if r.kind == reqBatch {
			r.offsets = append(r.offsets, off)
		}
		key, val := r.buf[pos:pos+int(a.klen)], r.buf[pos+int(a.klen):pos+int(a.klen)+int(a.vlen)]
		pos += int(a.klen) + int(a.vlen)

		vlen := recordHeaderLen(len(key)) + len(key) + len(val)
		op := gb.SetDeferred(len(p.logPrefix)+8, vlen)
		n := copy(op.Key, p.logPrefix)
		binary.BigEndian.PutUint64(op.Key[n:], off)
		n = putRecordHeader(op.Value, p.lastTS, len(key))
		n += copy(op.Value[n:], key)
		copy(op.Value[n:], val)
		_ = op.Finish() // no index on the group batch: cannot fail
	}
}

// trimAndSaveMeta trims p if it holds more than its depot's MaxEntries (plus
// slack) and writes its meta record.
func (c *committer) trimAndSaveMeta(gb *pebble.Batch, p *depotPart) {
	if limit := p.d.maxEntries.Load(); limit > 0 && p.next-p.first > limit+trimSlack(limit) {
		newFirst := p.next - limit
		_ = gb.DeleteRange(p.recordKey(p.first), p.recordKey(newFirst), nil)
		p.first = newFirst
		// Hide the doomed records now: a reader that saw the old first
		// offset and then misses them finds the new one on a second look.
		p.publish(min(newFirst, p.bounds.Load().next), 0)
	}
	if p.next == 0 {
		return // dropped and not appended to since: leave no key behind
	}
	_ = gb.Set(p.metaKey, encodeDepotMeta(p.first, p.next, p.lastTS), nil)
}

// trimSlack is how far past MaxEntries a partition may grow before it is
// trimmed, so that a busy partition is trimmed in chunks instead of by one
// range deletion per group commit: 1/16 of the limit.
func trimSlack(limit uint64) uint64 { return limit / 16 }

// buildDrop adds the range deletions of a drop request to gb and resets the
// state of the depot partitions it deletes, published bounds included (the
// pipeline is drained, so nothing else publishes meanwhile). It returns the module's
// depots with their loadMu held, which commitGroup releases once the
// deletions are applied: a partition load either finished before (and is
// reset here) or reads the dropped state.
func (c *committer) buildDrop(gb *pebble.Batch, r *commitReq) []*Depot {
	for _, rg := range r.dropRanges {
		_ = gb.DeleteRange(rg[0], rg[1], nil)
	}
	ds := c.droppedDepots(r)
	for _, d := range ds {
		d.loadMu.Lock()
		d.parts.Range(func(_, v any) bool {
			p := v.(*depotPart)
			if r.dropAll || p.partition == r.dropPart {
				p.first, p.next, p.lastTS = 0, 0, 0
				p.bounds.Store(&depotBounds{}) // hide the records before they go
			}
			return true
		})
	}
	return ds
}

// droppedDepots returns the declared depots of the module of a drop.
func (c *committer) droppedDepots(r *commitReq) []*Depot {
	db := c.db
	db.depotsMu.Lock()
	defer db.depotsMu.Unlock()
	var ds []*Depot
	for _, d := range db.depots {
		if d.module == r.dropModule {
			ds = append(ds, d)
		}
	}
	return ds
}
