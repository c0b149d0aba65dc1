package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// task runs one partition of a module: one goroutine that owns the
// partition's Processor and is the single writer of its PStates and
// progress. Other tasks talk to it only through its inbox.
type task struct {
	m *module
	e *Engine
	p uint32

	// The inbox, written by any goroutine.
	mu     sync.Mutex
	inHops []hopMsg
	inAcks []ackMsg
	wake   chan struct{} // buffered(1)

	// Owned by the task goroutine.
	proc     Processor
	topos    []*topoState
	rng      *rand.Rand
	rr       int
	inflight int   // trees that started here and are not complete
	fatal    error // set when the store failed: the task stops
	timer    *time.Timer

	// Reused buffers of the post-commit routing, one slot per partition.
	outHops [][]hopMsg
	outAcks [][]ackMsg
	kicks   []bool
}

// hopMsg delivers a hop item to the task of its target partition.
type hopMsg struct {
	topo uint16
	it   *item
}

// ackMsg reports to the task where a processing tree started that items of
// the tree are done: xor is their ids XOR the ids of the items they
// created.
type ackMsg struct {
	root    rootRef
	xor     uint64
	ret     abi.Value
	hasRet  bool
	failure string
}

// item is one batch item: a depot record or a hop delivery, with the
// processing tree it belongs to.
type item struct {
	kind    abi.ItemKind
	stage   uint16
	depot   uint16 // abi.NoDepot for hops
	offset  uint64
	srcPart uint32
	time    int64
	payload []byte
	attempt uint16

	root rootRef
	id   uint64 // the item's id in its tree (XOR acking)

	// Retry state.
	due     time.Time
	isolate bool // deliver alone (it was in a batch that failed twice)
	lastErr abi.ErrorDetail
}

// rootRef names a processing tree: the depot record (of a source of a
// topology) that started it, on the partition that read it.
type rootRef struct {
	origin uint32
	topo   uint16
	src    uint16
	off    uint64
}

type treeKey struct {
	src uint16
	off uint64
}

// tree is the state of a processing tree at the task where it started.
// Storm-style XOR acking: xor is the XOR of the ids of every item of the
// tree created and not yet done; it is 0 exactly when the tree is complete
// (up to a 2^-64 chance), in whatever order the reports arrive.
type tree struct {
	xor     uint64
	ret     abi.Value
	hasRet  bool
	failure string
}

// topoState is a task's state for one topology.
type topoState struct {
	info      *topoInfo
	sources   []*srcState
	hops      []*item // hop deliveries waiting for a batch
	retries   []*item // items waiting for their backoff
	trees     map[treeKey]*tree
	nextBatch uint64
}

// srcState tracks one source (depot partition → stage) of a topology on a
// task: the next offset to read and the records read whose trees are not
// complete. Every offset below the first pending one (or readOff) is
// done.
type srcState struct {
	info    *sourceInfo
	readOff uint64
	pending []uint64            // offsets in flight, increasing, from head
	head    int                 // pending[head:] is live
	done    map[uint64]struct{} // completed offsets of pending not yet popped
	written srcProgress         // the progress last committed
	// loaded is the progress the task started from: the records it says
	// were done are skipped when they are read again.
	loaded srcProgress
}

func (s *srcState) add(off uint64) {
	if s.head > 1024 && s.head > len(s.pending)/2 {
		n := copy(s.pending, s.pending[s.head:])
		s.pending = s.pending[:n]
		s.head = 0
	}
	s.pending = append(s.pending, off)
}

func (s *srcState) complete(off uint64) {
	if s.head < len(s.pending) && s.pending[s.head] == off {
		s.head++
		for s.head < len(s.pending) {
			if _, ok := s.done[s.pending[s.head]]; !ok {
				break
			}
			delete(s.done, s.pending[s.head])
			s.head++
		}
		return
	}
	if s.done == nil {
		s.done = map[uint64]struct{}{}
	}
	s.done[off] = struct{}{}
}

// snapshot returns the source's progress once the offsets in extra are
// complete too: the offsets in flight in order (the first is low, up to
// maxListed more are listed), then what the loaded progress says is not
// done among the offsets not read again yet.
func (s *srcState) snapshot(extra map[uint64]bool) srcProgress {
	end := s.readOff
	var tail []uint64
	if s.readOff < s.loaded.hi {
		end = s.loaded.hi
		if s.loaded.low >= s.readOff {
			tail = append(tail, s.loaded.low)
		}
		for _, off := range s.loaded.inflight {
			if off >= s.readOff {
				tail = append(tail, off)
			}
		}
	}
	var p srcProgress
	n := 0
	add := func(off uint64) bool {
		switch {
		case n == 0:
			p.low = off
		case len(p.inflight) == maxListed:
			p.hi = off
			return false
		default:
			p.inflight = append(p.inflight, off)
		}
		n++
		return true
	}
	for i := s.head; i < len(s.pending); i++ {
		off := s.pending[i]
		if _, ok := s.done[off]; ok || extra[off] {
			continue
		}
		if !add(off) {
			return p
		}
	}
	for _, off := range tail {
		if !add(off) {
			return p
		}
	}
	if n == 0 {
		p.low = end
	}
	p.hi = end
	return p
}

func newTask(m *module, p uint32) *task {
	seed := m.e.seeds.Uint64() // the caller (Deploy) holds e.mu
	t := &task{
		m:       m,
		e:       m.e,
		p:       p,
		wake:    make(chan struct{}, 1),
		rng:     rand.New(rand.NewPCG(seed, uint64(p))),
		outHops: make([][]hopMsg, m.tasks),
		outAcks: make([][]ackMsg, m.tasks),
		kicks:   make([]bool, m.tasks),
	}
	for _, ti := range m.topos {
		ts := &topoState{info: ti, trees: map[treeKey]*tree{}}
		if ti.micro {
			// Run by its mbRunner: the task never reads its sources.
			t.topos = append(t.topos, ts)
			continue
		}
		for i := range ti.sources {
			ts.sources = append(ts.sources, &srcState{info: &ti.sources[i]})
		}
		t.topos = append(t.topos, ts)
	}
	return t
}

// load sets every source's position from the committed progress.
func (t *task) load() error {
	for _, ts := range t.topos {
		name := ts.info.def.Name
		raw, ok, err := t.e.db.Progress(t.m.name, name, t.p)
		if err != nil {
			return fmt.Errorf("engine: module %q topology %q partition %d: read progress: %w", t.m.name, name, t.p, err)
		}
		var prog progress
		if ok {
			if prog, err = decodeProgress(raw); err != nil {
				return fmt.Errorf("engine: module %q topology %q partition %d: %w", t.m.name, name, t.p, err)
			}
			ts.nextBatch = prog.batch
		}
		placed := false // a source started where its start_from says: record it
		for _, s := range ts.sources {
			d := s.info.depot
			first, next, err := d.d.Bounds(t.p)
			if err != nil {
				return err
			}
			sp, found := prog.srcs[srcKey{d.def.Name, ts.info.def.Stages[s.info.stage]}]
			switch {
			case !found:
				start := first
				switch src := &ts.info.def.Sources[s.info.idx]; src.StartFrom {
				case abi.StartEnd:
					start, placed = next, true
				case abi.StartOffset:
					start, placed = min(max(uint64(src.StartOffset), first), next), true
				}
				sp = srcProgress{low: start, hi: start}
			case sp.low < first:
				t.e.log.Warn("engine: records were trimmed before they were processed; skipping them",
					"module", t.m.name, "topology", name, "depot", d.def.Name, "partition", t.p, "from", sp.low, "to", first)
				sp.low = first
			case sp.low > next || sp.hi > next:
				t.e.log.Warn("engine: progress is past the end of the depot (was it dropped?); resuming at its end",
					"module", t.m.name, "topology", name, "depot", d.def.Name, "partition", t.p, "progress", sp.low, "next", next)
				sp = srcProgress{low: next, hi: next}
			}
			s.readOff, s.written, s.loaded = sp.low, sp, sp
		}
		if placed {
			// "end" is the end at the first deploy: commit it now, or a
			// restart before the first batch would move it.
			progs := make([]srcProgress, len(ts.sources))
			for i, s := range ts.sources {
				progs[i] = s.written
			}
			b := t.e.db.NewBatch()
			err := b.SetProgress(t.m.name, name, t.p, encodeProgress(ts, progs))
			if err == nil {
				_, err = b.Commit(t.m.ctx)
			}
			b.Close()
			if err != nil {
				return fmt.Errorf("engine: module %q topology %q partition %d: record where its sources start: %w", t.m.name, name, t.p, err)
			}
		}
	}
	return nil
}

// kick wakes the task.
func (t *task) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// post adds messages to the task's inbox and wakes it.
func (t *task) post(hops []hopMsg, acks []ackMsg) {
	t.mu.Lock()
	t.inHops = append(t.inHops, hops...)
	t.inAcks = append(t.inAcks, acks...)
	t.mu.Unlock()
	t.kick()
}

func (t *task) drainInbox() {
	t.mu.Lock()
	hops, acks := t.inHops, t.inAcks
	t.inHops, t.inAcks = nil, nil
	t.mu.Unlock()
	for i := range acks {
		a := &acks[i]
		t.applyAck(a.root, a.xor, a.ret, a.hasRet, a.failure)
	}
	for _, h := range hops {
		ts := t.topos[h.topo]
		ts.hops = append(ts.hops, h.it)
	}
}

// run is the task goroutine.
func (t *task) run() {
	t.timer = time.NewTimer(time.Hour)
	t.timer.Stop()
	defer t.shutdown()
	ctx := t.m.ctx
	for {
		if ctx.Err() != nil || t.fatal != nil {
			return
		}
		t.drainInbox()
		worked := false
		n := len(t.topos)
		for i := range n {
			ts := t.topos[(t.rr+i)%n]
			if items := t.collect(ts); len(items) > 0 {
				t.runBatch(ts, items)
				worked = true
			}
			if ctx.Err() != nil || t.fatal != nil {
				return
			}
		}
		t.rr++
		if worked {
			continue
		}
		if t.m.drained() {
			t.flushProgress()
			return
		}
		t.flushProgress()
		t.idle()
	}
}

func (t *task) shutdown() {
	t.timer.Stop()
	t.discard()
}

// idle waits for a message, an append, the next retry or the end.
func (t *task) idle() {
	var timerC <-chan time.Time
	if due, ok := t.nextDue(); ok {
		d := time.Until(due)
		if d <= 0 {
			return
		}
		t.timer.Reset(d)
		timerC = t.timer.C
		defer t.timer.Stop()
	}
	select {
	case <-t.wake:
	case <-timerC:
	case <-t.m.ctx.Done():
	}
}

func (t *task) nextDue() (time.Time, bool) {
	var due time.Time
	found := false
	for _, ts := range t.topos {
		for _, it := range ts.retries {
			if !found || it.due.Before(due) {
				due, found = it.due, true
			}
		}
	}
	return due, found
}

// sleep waits d, or until a hard stop; it reports whether to go on.
func (t *task) sleep(d time.Duration) bool {
	t.timer.Reset(d)
	defer t.timer.Stop()
	select {
	case <-t.timer.C:
		return true
	case <-t.m.ctx.Done():
		return false
	}
}

// backoff returns the delay before retry n (n ≥ 1): exponential from
// BackoffBase, capped at BackoffMax, drawn from [d/2, d].
func (t *task) backoff(n int) time.Duration {
	d := t.e.cfg.BackoffBase
	for i := 1; i < n && d < t.e.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, t.e.cfg.BackoffMax)
	half := d / 2
	return half + time.Duration(t.rng.Int64N(int64(d-half)+1))
}

func (t *task) newID() uint64 {
	for {
		if id := t.rng.Uint64(); id != 0 {
			return id
		}
	}
}

// collect picks the items of the next batch of topology ts: an isolated
// retry alone, or else due retries, then hop deliveries, then new depot
// records, up to the batch limits.
func (t *task) collect(ts *topoState) []*item {
	now := time.Now()
	for i, it := range ts.retries {
		if it.isolate && !it.due.After(now) {
			ts.retries = append(ts.retries[:i], ts.retries[i+1:]...)
			return []*item{it}
		}
	}
	maxItems, maxBytes := t.e.cfg.MaxBatchItems, t.e.cfg.MaxBatchBytes
	var items []*item
	bytes := 0
	full := func() bool { return len(items) >= maxItems || bytes >= maxBytes }
	if len(ts.retries) > 0 {
		keep := ts.retries[:0]
		for _, it := range ts.retries {
			if it.isolate || it.due.After(now) || full() {
				keep = append(keep, it)
				continue
			}
			items = append(items, it)
			bytes += len(it.payload)
		}
		clear(ts.retries[len(keep):])
		ts.retries = keep
	}
	n := 0
	for n < len(ts.hops) && !full() {
		items = append(items, ts.hops[n])
		bytes += len(ts.hops[n].payload)
		n++
	}
	if n == len(ts.hops) {
		ts.hops = ts.hops[:0]
	} else if n > 0 {
		rest := copy(ts.hops, ts.hops[n:])
		clear(ts.hops[rest:])
		ts.hops = ts.hops[:rest]
	}
	// Announce the read before checking draining (see module.reading).
	t.m.reading.Add(1)
	defer func() {
		if t.m.reading.Add(-1) == 0 && t.m.draining.Load() {
			t.m.kickAll()
		}
	}()
	if t.m.draining.Load() {
		return items
	}
	for i := range ts.sources {
		if full() || t.inflight >= t.e.cfg.MaxInflight {
			break
		}
		s := ts.sources[(int(ts.nextBatch)+i)%len(ts.sources)]
		items, bytes = t.read(ts, s, items, bytes)
	}
	return items
}

// read adds the next records of source s to items.
func (t *task) read(ts *topoState, s *srcState, items []*item, bytes int) ([]*item, int) {
	d := s.info.depot
	_, next, err := d.d.Bounds(t.p)
	if err != nil {
		t.fail(err)
		return items, bytes
	}
	if s.readOff >= next {
		return items, bytes
	}
	limit := min(t.e.cfg.MaxBatchItems-len(items), t.e.cfg.MaxInflight-t.inflight)
	entries, err := d.d.Read(t.p, s.readOff, limit)
	var oe *storage.OffsetError
	if errors.As(err, &oe) && errors.Is(err, storage.ErrTrimmed) {
		t.e.log.Warn("engine: records were trimmed before they were processed; skipping them",
			"module", t.m.name, "topology", ts.info.def.Name, "depot", d.def.Name, "partition", t.p, "from", s.readOff, "to", oe.First)
		s.readOff = oe.First
		entries, err = d.d.Read(t.p, s.readOff, limit)
	}
	if err != nil {
		t.fail(err)
		return items, bytes
	}
	for _, en := range entries {
		if s.loaded.done(en.Offset) {
			// Completely processed before the restart: not again.
			s.readOff = en.Offset + 1
			if s.head < len(s.pending) {
				s.add(en.Offset)
				s.complete(en.Offset)
			}
			continue
		}
		it := &item{
			kind:    abi.ItemRecord,
			stage:   s.info.stage,
			depot:   d.idx,
			offset:  en.Offset,
			srcPart: t.p,
			time:    en.Time,
			payload: en.Value,
			root:    rootRef{origin: t.p, topo: ts.info.idx, src: s.info.idx, off: en.Offset},
			id:      t.newID(),
		}
		ts.trees[treeKey{s.info.idx, en.Offset}] = &tree{xor: it.id}
		s.add(en.Offset)
		s.readOff = en.Offset + 1
		t.inflight++
		t.m.inflight.Add(1)
		items = append(items, it)
		bytes += len(en.Value)
	}
	if s.readOff >= s.loaded.hi {
		s.loaded = srcProgress{}
	}
	return items, bytes
}

// fail stops the task on a store failure: what reached the disk is
// unknown, so nothing more of the partition can be processed until a
// restart replays it.
func (t *task) fail(err error) {
	if t.fatal != nil {
		return
	}
	if t.m.ctx.Err() != nil && errors.Is(err, storage.ErrClosed) {
		t.fatal = err
		return
	}
	t.fatal = err
	t.e.log.Error("engine: the partition stopped on a store failure; restart the engine to resume it",
		"module", t.m.name, "partition", t.p, "err", err)
	t.m.failed.Store(true)
	t.m.closeAcks(fmt.Errorf("engine: module %q partition %d stopped: %w", t.m.name, t.p, err))
	t.m.kickAll()
}

// discard closes the task's processor, if any.
func (t *task) discard() {
	if t.proc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.proc.Close(ctx); err != nil {
		t.e.log.Warn("engine: closing a processor failed", "module", t.m.name, "partition", t.p, "err", err)
	}
	t.proc = nil
}

// startError reports that the ProcessorFactory failed: no item was
// delivered.
type startError struct{ err error }

func (e *startError) Error() string { return "engine: start a processor: " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// process runs one call of the batch on the task's processor, creating it
// first if needed, and returns why the call failed (nil when it
// completed).
func (t *task) process(frame *abi.BatchFrame, c *call) error {
	if t.proc == nil {
		p, err := t.m.newProc(t.m.ctx, t.p)
		if err != nil {
			return &startError{err}
		}
		t.proc = p
	}
	ctx, cancel := context.WithTimeout(t.m.ctx, t.e.cfg.CallTimeout)
	defer cancel()
	return runCall(ctx, t.proc, frame, c)
}

// deadItem is an item on its way to the dead-letter depot.
type deadItem struct {
	it     *item
	reason string
	detail abi.ErrorDetail
}

// runBatch processes one batch of topology ts and commits its effects,
// retrying and isolating failures (ABI.md §12.3, §12.4). Items whose
// outcome is RETRY go back to ts.retries; poisoned, rejected and
// exhausted items are dead-lettered in the batch's commit.
func (t *task) runBatch(ts *topoState, items []*item) {
	hdr := abi.BatchHeader{
		BatchID:      ts.nextBatch,
		Partition:    t.p,
		Topology:     ts.info.idx,
		TimeUnixNano: t.e.cfg.Clock().UnixNano(),
		Seed:         t.rng.Uint64(),
	}
	ts.nextBatch++
	maxAttempts := uint16(t.e.cfg.MaxAttempts)
	live := items
	var dead []deadItem
	failures, startFailures := 0, 0
	for len(live) > 0 {
		if t.m.ctx.Err() != nil {
			return // hard stop: the trees stay incomplete and are replayed after a restart
		}
		frame := buildFrame(&hdr, live)
		sb := t.e.db.NewBatch()
		c := newCall(t, ts, frame, live, sb)
		err := t.process(frame, c)
		if err != nil {
			sb.Close()
			if t.m.ctx.Err() != nil {
				return
			}
			var se *startError
			if errors.As(err, &se) {
				startFailures++
				t.e.log.Error("engine: cannot start a processor; retrying", "module", t.m.name, "partition", t.p, "attempt", startFailures, "err", se.err)
				if !t.sleep(t.backoff(startFailures)) {
					return
				}
				continue
			}
			if c.fail != nil && c.internal {
				t.fail(c.fail)
				return
			}
			t.discard()
			failures++
			hdr.Attempt++
			detail := errorDetail(err)
			t.e.log.Warn("engine: batch failed; the processor was discarded", "module", t.m.name, "topology", ts.info.def.Name,
				"partition", t.p, "batch", hdr.BatchID, "items", len(live), "failures", failures, "err", err)
			keep := live[:0:0]
			for _, it := range live {
				it.attempt++
				it.lastErr = detail
				if it.attempt >= maxAttempts {
					dead = append(dead, deadItem{it, "the item failed " + fmt.Sprint(it.attempt) + " times", detail})
				} else {
					keep = append(keep, it)
				}
			}
			live = keep
			if failures == 1 && len(live) > 1 {
				// The first retry runs the same batch (same id, time and
				// seed) on a fresh processor after a backoff.
				if !t.sleep(t.backoff(failures)) {
					return
				}
				continue
			}
			// Isolation: from the second failure (or for a single item)
			// the items go back to the task one at a time, each after its
			// own backoff, so one bad item can neither stop the partition
			// nor hold up its other topologies while it backs off.
			for _, it := range live {
				it.isolate, it.due = true, time.Now().Add(t.backoff(int(it.attempt)))
				ts.retries = append(ts.retries, it)
			}
			live = nil
			break
		}

		// The call completed: every item has an outcome.
		bad, touched := false, false
		for i := range c.outs {
			if !c.outs[i].ok() {
				bad = true
				touched = touched || c.outs[i].touched
			}
		}
		if !bad {
			if err := t.commit(ts, &hdr, c, dead); err != nil {
				t.commitFailed(ts, c.items, dead, err)
			}
			return
		}
		keep := live[:0:0]
		for i, it := range live {
			out := &c.outs[i]
			switch {
			case out.ok():
				keep = append(keep, it)
			case out.rejected:
				dead = append(dead, deadItem{it, "the host rejected an effect", out.detail})
			case out.outcome == abi.OutcomePoison:
				dead = append(dead, deadItem{it, "poison", out.detail})
			default: // RETRY
				it.attempt++
				it.lastErr = out.detail
				if it.attempt >= maxAttempts {
					dead = append(dead, deadItem{it, "retried " + fmt.Sprint(it.attempt) + " times", out.detail})
				} else {
					it.isolate = false
					it.due = time.Now().Add(t.backoff(int(it.attempt)))
					ts.retries = append(ts.retries, it)
				}
			}
		}
		if !touched {
			// The failed items wrote nothing to the store batch (their
			// hops, emits and appends are dropped here), so it holds
			// exactly the effects of the items that succeeded.
			if err := t.commit(ts, &hdr, c, dead); err != nil {
				t.commitFailed(ts, keep, dead, err)
			}
			return
		}
		// The store batch has no savepoints: discard it and run the
		// batch again without the failed items. Guests are
		// deterministic, so the others produce the same effects.
		sb.Close()
		live = keep
		hdr.Attempt++
	}
	if len(dead) > 0 {
		if err := t.commit(ts, &hdr, nil, dead); err != nil {
			t.commitFailed(ts, nil, dead, err)
		}
	}
}

// commitFailed handles a commit that failed: a batch too large for one
// commit is split (its items isolated); anything else stops the task.
func (t *task) commitFailed(ts *topoState, items []*item, dead []deadItem, err error) {
	if !errors.Is(err, storage.ErrTooLarge) {
		t.fail(err)
		return
	}
	if len(items) == 1 && len(dead) == 0 {
		hdr := abi.BatchHeader{BatchID: ts.nextBatch, Partition: t.p, Topology: ts.info.idx}
		ts.nextBatch++
		d := deadItem{items[0], "its effects exceed the size of a commit", abi.ErrorDetail{Kind: "too_large", Message: err.Error()}}
		if err := t.commit(ts, &hdr, nil, []deadItem{d}); err != nil {
			t.fail(err)
		}
		return
	}
	for _, it := range items {
		it.isolate, it.due = true, time.Now()
		ts.retries = append(ts.retries, it)
	}
	if len(dead) > 0 {
		hdr := abi.BatchHeader{BatchID: ts.nextBatch, Partition: t.p, Topology: ts.info.idx}
		ts.nextBatch++
		if err := t.commit(ts, &hdr, nil, dead); err != nil {
			t.fail(err)
		}
	}
}

func buildFrame(hdr *abi.BatchHeader, items []*item) *abi.BatchFrame {
	f := &abi.BatchFrame{Header: *hdr, Items: make([]abi.BatchItem, len(items))}
	for i, it := range items {
		f.Items[i] = abi.BatchItem{
			Kind:              it.kind,
			Stage:             it.stage,
			Depot:             it.depot,
			Attempt:           it.attempt,
			SourcePartition:   it.srcPart,
			Offset:            it.offset,
			EventTimeUnixNano: it.time,
			Payload:           it.payload,
		}
	}
	return f
}

// errorDetail describes a failed call for dead letters.
func errorDetail(err error) abi.ErrorDetail {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Detail
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return abi.ErrorDetail{Kind: "timeout", Message: err.Error()}
	}
	return abi.ErrorDetail{Kind: "call_failed", Message: err.Error()}
}

// linkReq links the processing of a record appended with ACK by a
// topology into the tree of the item that appended it.
type linkReq struct {
	ai   int // index in call.appends, and in the commit's offsets
	root rootRef
	id   uint64
	tok  ackToken
}

type doneItem struct {
	root    rootRef
	xor     uint64
	ret     abi.Value
	hasRet  bool
	failure string
}

// commit makes the effects of the items of c that succeeded (none when c
// is nil), the dead letters and the topology's progress durable in one
// store batch — the engine's one seam for durability — and then routes
// hops, reports done items to their trees, wakes the tasks that got
// records and links ACK appends.
func (t *task) commit(ts *topoState, hdr *abi.BatchHeader, c *call, dead []deadItem) error {
	var sb *storage.Batch
	if c != nil {
		sb = c.sb
	} else {
		sb = t.e.db.NewBatch()
	}
	defer sb.Close()

	var dones []doneItem
	var links []linkReq
	nhops := 0
	if c != nil {
		for i, it := range c.items {
			out := &c.outs[i]
			if !out.ok() {
				continue
			}
			x := it.id
			for _, h := range out.hops {
				first, last := h.part, h.part
				if h.all {
					first, last = 0, t.m.tasks-1
				}
				for p := first; p <= last; p++ {
					child := &item{
						kind:    abi.ItemHop,
						stage:   h.stage,
						depot:   abi.NoDepot,
						srcPart: t.p,
						time:    hdr.TimeUnixNano,
						payload: h.payload,
						root:    it.root,
						id:      t.newID(),
					}
					x ^= child.id
					t.outHops[p] = append(t.outHops[p], hopMsg{topo: ts.info.idx, it: child})
					nhops++
				}
			}
			for _, ai := range out.appends {
				if c.appends[ai].link {
					id := t.newID()
					x ^= id
					links = append(links, linkReq{ai: ai, root: it.root, id: id})
				}
			}
			dones = append(dones, doneItem{root: it.root, xor: x, ret: out.emit, hasRet: out.hasEmit})
		}
	}
	for _, d := range dead {
		if err := sb.Append(t.m.deadLetter, t.p, t.deadLetter(ts, hdr, d)); err != nil {
			t.clearOut(nhops)
			return err
		}
		t.e.log.Warn("engine: item dead-lettered", "module", t.m.name, "topology", ts.info.def.Name, "partition", t.p,
			"kind", d.it.kind.String(), "offset", d.it.offset, "reason", d.reason, "error", d.detail.Message)
		dones = append(dones, doneItem{root: d.it.root, xor: d.it.id,
			failure: ts.info.def.Stages[d.it.stage] + ": " + d.reason + ": " + d.detail.Message})
	}

	progs, changed := t.projectProgress(ts, dones)
	if changed {
		if err := sb.SetProgress(t.m.name, ts.info.def.Name, t.p, encodeProgress(ts, progs)); err != nil {
			t.clearOut(nhops)
			return err
		}
	}
	for i := range links {
		l := &links[i]
		a := &c.appends[l.ai]
		_, floor, err := a.depot.d.Bounds(a.part)
		if err != nil {
			for j := range i {
				a := &c.appends[links[j].ai]
				a.depot.acks.abort(links[j].tok)
			}
			t.clearOut(nhops)
			return err
		}
		l.tok = a.depot.acks.begin(a.part, floor)
	}
	res, err := sb.Commit(context.WithoutCancel(t.m.ctx))
	if err != nil {
		for _, l := range links {
			c.appends[l.ai].depot.acks.abort(l.tok)
		}
		t.clearOut(nhops)
		return err
	}
	for i, s := range ts.sources {
		s.written = progs[i]
	}

	// Trees first (XOR acking does not need it, but it keeps the local
	// tree table small), then hops, then wake-ups and links.
	for _, d := range dones {
		if d.root.origin == t.p {
			t.applyAck(d.root, d.xor, d.ret, d.hasRet, d.failure)
		} else {
			t.outAcks[d.root.origin] = append(t.outAcks[d.root.origin], ackMsg(d))
		}
	}
	if c != nil {
		for _, a := range c.appends {
			t.kicks[a.part] = true
			a.depot.kickMBs()
		}
	}
	for p := range t.m.tasks {
		acks, hops := t.outAcks[p], t.outHops[p]
		switch {
		case p == t.p:
			for _, h := range hops {
				ts.hops = append(ts.hops, h.it)
			}
		case len(acks) > 0 || len(hops) > 0:
			t.m.parts[p].post(hops, acks)
			t.kicks[p] = false
		}
		if t.kicks[p] {
			t.m.parts[p].kick()
			t.kicks[p] = false
		}
		clear(acks)
		clear(hops)
		t.outAcks[p], t.outHops[p] = acks[:0], hops[:0]
	}
	for _, l := range links {
		a := &c.appends[l.ai]
		w := &ackWaiter{need: a.depot.readers, fn: t.linkDone(l.root, l.id)}
		a.depot.acks.resolve(l.tok, res.Offsets[l.ai], w)
	}
	return nil
}

// clearOut forgets the hops a failed commit had routed.
func (t *task) clearOut(nhops int) {
	if nhops == 0 {
		return
	}
	for p := range t.outHops {
		clear(t.outHops[p])
		t.outHops[p] = t.outHops[p][:0]
	}
}

// linkDone returns what reports a linked record's processing to the tree
// of the item that appended it.
func (t *task) linkDone(root rootRef, id uint64) func(*ackWaiter) {
	return func(w *ackWaiter) {
		msg := ackMsg{root: root, xor: id}
		switch {
		case w.err != nil:
			msg.failure = "a record appended with ACK: " + w.err.Error()
		case len(w.failures) > 0:
			msg.failure = "a record appended with ACK: " + w.failures[0]
		}
		t.m.parts[root.origin].post(nil, []ackMsg{msg})
	}
}

// applyAck applies a report of done items to a tree that started on this
// task, and completes the tree when nothing of it is left.
func (t *task) applyAck(root rootRef, x uint64, ret abi.Value, hasRet bool, failure string) {
	ts := t.topos[root.topo]
	k := treeKey{root.src, root.off}
	tr := ts.trees[k]
	if tr == nil {
		return // a report from before a restart of the tree's processing
	}
	tr.xor ^= x
	if hasRet {
		tr.ret, tr.hasRet = ret, true
	}
	if failure != "" && tr.failure == "" {
		tr.failure = failure
	}
	if tr.xor != 0 {
		return
	}
	delete(ts.trees, k)
	s := ts.sources[root.src]
	s.complete(root.off)
	t.inflight--
	s.info.depot.acks.complete(t.p, root.off, ts.info.def.Name, tr.ret, tr.hasRet, tr.failure)
	t.m.treeDone()
}

// projectProgress returns the progress of every source of ts once the
// done items are applied, and whether any differs from the committed
// progress.
func (t *task) projectProgress(ts *topoState, dones []doneItem) ([]srcProgress, bool) {
	var deltas map[treeKey]uint64
	for _, d := range dones {
		if d.root.origin == t.p {
			if deltas == nil {
				deltas = map[treeKey]uint64{}
			}
			k := treeKey{d.root.src, d.root.off}
			deltas[k] ^= d.xor
		}
	}
	var completing []map[uint64]bool
	for k, x := range deltas {
		if tr := ts.trees[k]; tr != nil && tr.xor^x == 0 {
			if completing == nil {
				completing = make([]map[uint64]bool, len(ts.sources))
			}
			if completing[k.src] == nil {
				completing[k.src] = map[uint64]bool{}
			}
			completing[k.src][k.off] = true
		}
	}
	progs := make([]srcProgress, len(ts.sources))
	changed := false
	for i, s := range ts.sources {
		var extra map[uint64]bool
		if completing != nil {
			extra = completing[i]
		}
		progs[i] = s.snapshot(extra)
		changed = changed || !progs[i].equal(&s.written)
	}
	return progs, changed
}

// flushProgress commits the progress of every topology whose trees
// completed since its last commit.
func (t *task) flushProgress() {
	for _, ts := range t.topos {
		dirty := false
		for _, s := range ts.sources {
			if !dirty {
				p := s.snapshot(nil)
				dirty = !p.equal(&s.written)
			}
		}
		if !dirty {
			continue
		}
		hdr := abi.BatchHeader{BatchID: ts.nextBatch, Partition: t.p, Topology: ts.info.idx}
		if err := t.commit(ts, &hdr, nil, nil); err != nil {
			t.fail(err)
			return
		}
	}
}

// deadLetter builds the dead-letter record of an item.
func (t *task) deadLetter(ts *topoState, hdr *abi.BatchHeader, d deadItem) storage.Record {
	dl := DeadLetter{
		Topology:        ts.info.def.Name,
		Stage:           ts.info.def.Stages[d.it.stage],
		Partition:       t.p,
		SourcePartition: d.it.srcPart,
		Attempts:        int(d.it.attempt),
		Reason:          d.reason,
		Error:           d.detail,
		BatchTime:       hdr.TimeUnixNano,
	}
	if d.it.kind == abi.ItemRecord {
		dl.Depot = t.m.def.Depots[d.it.depot].Name
		dl.Offset = d.it.offset
	}
	if v, err := abi.Decode(d.it.payload); err == nil {
		dl.Payload = v
	} else {
		dl.Payload = abi.Bytes(d.it.payload)
	}
	enc, err := abi.Encode(dl.Value())
	if err != nil || len(enc) > storage.MaxRecordSize/2 {
		dl.Payload = abi.String("(omitted: " + fmt.Sprint(len(d.it.payload)) + " bytes)")
		if len(dl.Error.Message) > 4096 {
			dl.Error.Message = dl.Error.Message[:4096]
		}
		enc, _ = abi.Encode(dl.Value())
	}
	return storage.Record{Value: enc}
}
