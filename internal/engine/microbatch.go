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

// Microbatch topologies (ABI.md §15.2). One mbRunner goroutine per
// microbatch topology of a module runs its microbatches one after the
// other: microbatch N covers, on every partition, the records of each
// source from where N-1 ended, up to MaxRecords more. The runner delivers
// them, and then the hops they send, to its own Processor (an instance
// serves every partition), staging every effect of every partition in one
// store batch that reads its own writes. Only when every item of every
// call ended OK does it commit that batch, with the progress records of
// every partition, in one atomic store write: so a reader sees all of a
// microbatch or none of it, and a retried (or, after a crash, re-run)
// microbatch applies its records exactly once.

// maxMicrobatchDeliveries bounds the items one microbatch attempt
// delivers (records and hops), so that a hop loop fails the microbatch
// instead of running forever.
const maxMicrobatchDeliveries = 4_000_000

// MicrobatchStatus is the state of a microbatch topology.
type MicrobatchStatus struct {
	// Next is the number of the next microbatch: how many committed.
	Next uint64
	// Paused is set when a microbatch failed MaxAttempts times; Error says
	// why (the last error), and nothing of it was applied.
	Paused bool
	Error  string
	// Attempts counts the failed attempts of the current microbatch.
	Attempts int
	// DeadLettered counts the source records dead-lettered since the
	// module was deployed (poisoned items remove their record).
	DeadLettered uint64
}

type mbRunner struct {
	m    *module
	ti   *topoInfo
	wake chan struct{} // buffered(1)

	// Owned by the run goroutine.
	proc  Processor
	next  uint64
	ends  [][]uint64 // [source][partition]: the first offset not processed
	rng   *rand.Rand
	timer *time.Timer

	mu     sync.Mutex
	status MicrobatchStatus
}

func newMBRunner(m *module, ti *topoInfo) *mbRunner {
	seed := m.e.seeds.Uint64() // the caller (Deploy) holds e.mu
	r := &mbRunner{m: m, ti: ti, wake: make(chan struct{}, 1), rng: rand.New(rand.NewPCG(seed, uint64(ti.idx)))}
	r.ends = make([][]uint64, len(ti.sources))
	for i := range r.ends {
		r.ends[i] = make([]uint64, m.tasks)
	}
	return r
}

func (r *mbRunner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Status returns the runner's status.
func (r *mbRunner) Status() MicrobatchStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *mbRunner) setStatus(fn func(s *MicrobatchStatus)) {
	r.mu.Lock()
	fn(&r.status)
	r.mu.Unlock()
}

// The progress record of a microbatch topology on a partition is the
// canonical MessagePack map
//
//	{"batch": next microbatch number, "ends": [[depot, stage, end], ...]}
//
// with, for each source, the first offset of the partition no committed
// microbatch covered. Every partition's record is written in the commit of
// every microbatch, so they always agree.

func encodeMBProgress(ti *topoInfo, next uint64, ends [][]uint64, p uint32) []byte {
	srcs := make([]abi.Value, len(ti.sources))
	for i, s := range ti.sources {
		srcs[i] = abi.List(abi.String(s.depot.def.Name), abi.String(ti.def.Stages[s.stage]), abi.Int(int64(ends[i][p])))
	}
	b, _ := abi.Encode(abi.Map(
		abi.MapEntry{Key: abi.String("batch"), Val: abi.Int(int64(next))},
		abi.MapEntry{Key: abi.String("ends"), Val: abi.List(srcs...)},
	))
	return b
}

func decodeMBProgress(raw []byte) (uint64, map[srcKey]uint64, error) {
	v, err := abi.Decode(raw)
	if err != nil {
		return 0, nil, fmt.Errorf("the microbatch progress record is damaged: %w", err)
	}
	bv, _ := v.Get(abi.String("batch"))
	batch, ok := bv.AsInt()
	ev, _ := v.Get(abi.String("ends"))
	if !ok || batch < 0 || ev.Kind() != abi.KindList {
		return 0, nil, errors.New("the microbatch progress record is damaged: " + v.String())
	}
	ends := map[srcKey]uint64{}
	for _, e := range ev.Items() {
		d, ok1 := e.Index(0).AsString()
		s, ok2 := e.Index(1).AsString()
		off, ok3 := e.Index(2).AsInt()
		if e.Len() != 3 || !ok1 || !ok2 || !ok3 || off < 0 {
			return 0, nil, errors.New("the microbatch progress record is damaged: " + v.String())
		}
		ends[srcKey{d, s}] = uint64(off)
	}
	return uint64(batch), ends, nil
}

// load reads the committed progress; on the topology's first deploy it
// places every source where its start_from says and commits that, so that
// "end" means the end at the first deploy even if the node restarts
// before the first microbatch.
func (r *mbRunner) load(ctx context.Context) error {
	m, ti := r.m, r.ti
	name := ti.def.Name
	fresh := false
	for p := range m.tasks {
		raw, ok, err := m.e.db.Progress(m.name, name, p)
		if err != nil {
			return fmt.Errorf("engine: module %q topology %q partition %d: read progress: %w", m.name, name, p, err)
		}
		var batch uint64
		var ends map[srcKey]uint64
		if ok {
			if batch, ends, err = decodeMBProgress(raw); err != nil {
				return fmt.Errorf("engine: module %q topology %q partition %d: %w", m.name, name, p, err)
			}
			r.next = max(r.next, batch)
		}
		for i, s := range ti.sources {
			first, next, err := s.depot.d.Bounds(p)
			if err != nil {
				return err
			}
			end, found := ends[srcKey{s.depot.def.Name, ti.def.Stages[s.stage]}]
			if !found {
				fresh = true
				src := &ti.def.Sources[s.idx]
				switch src.StartFrom {
				case abi.StartEnd:
					end = next
				case abi.StartOffset:
					end = min(max(uint64(src.StartOffset), first), next)
				default:
					end = first
				}
			}
			if end < first {
				m.e.log.Warn("engine: records were trimmed before the microbatch topology processed them; skipping them",
					"module", m.name, "topology", name, "depot", s.depot.def.Name, "partition", p, "from", end, "to", first)
				end = first
			}
			if end > next {
				m.e.log.Warn("engine: microbatch progress is past the end of the depot (was it dropped?); resuming at its end",
					"module", m.name, "topology", name, "depot", s.depot.def.Name, "partition", p, "progress", end, "next", next)
				end = next
			}
			r.ends[i][p] = end
		}
	}
	r.setStatus(func(s *MicrobatchStatus) { s.Next = r.next })
	if !fresh {
		return nil
	}
	b := m.e.db.NewBatch()
	defer b.Close()
	for p := range m.tasks {
		if err := b.SetProgress(m.name, name, p, encodeMBProgress(ti, r.next, r.ends, p)); err != nil {
			return err
		}
	}
	if _, err := b.Commit(ctx); err != nil {
		return fmt.Errorf("engine: module %q topology %q: record where its sources start: %w", m.name, name, err)
	}
	return nil
}

// lag counts the records no committed microbatch covered.
func (r *mbRunner) lag() (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for i, s := range r.ti.sources {
		for p := range r.m.tasks {
			_, next, err := s.depot.d.Bounds(p)
			if err != nil {
				return 0, err
			}
			if e := r.ends[i][p]; next > e {
				n += next - e
			}
		}
	}
	return n, nil
}

// stopped reports whether the runner must exit: the module is draining or
// stopped hard.
func (r *mbRunner) stopped() bool {
	return r.m.ctx.Err() != nil || r.m.draining.Load()
}

// sleep waits d or until the runner must stop; it reports whether to go
// on.
func (r *mbRunner) sleep(d time.Duration) bool {
	r.timer.Reset(d)
	defer r.timer.Stop()
	select {
	case <-r.timer.C:
		return !r.stopped()
	case <-r.m.drainCh:
	case <-r.m.ctx.Done():
	}
	return false
}

func (r *mbRunner) run() {
	r.timer = time.NewTimer(time.Hour)
	r.timer.Stop()
	defer r.discard()
	interval := time.Duration(r.ti.def.IntervalMillis) * time.Millisecond
	var lastStart time.Time
	for !r.stopped() {
		if r.Status().Paused {
			select {
			case <-r.m.drainCh:
			case <-r.m.ctx.Done():
			}
			return
		}
		ranges, any, err := r.plan()
		if err != nil {
			r.pause(r.next, fmt.Errorf("read the depots: %w", err))
			continue
		}
		if !any {
			select {
			case <-r.wake:
			case <-r.m.drainCh:
			case <-r.m.ctx.Done():
			}
			continue
		}
		if wait := interval - time.Since(lastStart); interval > 0 && wait > 0 {
			if !r.sleep(wait) {
				return
			}
			continue // more records may have come: plan again
		}
		lastStart = time.Now()
		r.runMicrobatch(ranges)
	}
}

// plan returns the offset range [lo, hi) of every source and partition of
// the next microbatch, and whether any is non-empty.
func (r *mbRunner) plan() ([][][2]uint64, bool, error) {
	limit := uint64(r.ti.def.BatchMaxRecords())
	ranges := make([][][2]uint64, len(r.ti.sources))
	any := false
	for i, s := range r.ti.sources {
		ranges[i] = make([][2]uint64, r.m.tasks)
		for p := range r.m.tasks {
			_, next, err := s.depot.d.Bounds(p)
			if err != nil {
				return nil, false, err
			}
			lo := r.ends[i][p]
			hi := min(next, lo+limit)
			if hi > lo {
				any = true
			} else {
				hi = lo
			}
			ranges[i][p] = [2]uint64{lo, hi}
		}
	}
	return ranges, any, nil
}

// mbRoot names a source record of a microbatch: the processing of
// everything that descends from it is removed together when one of its
// items is poisoned.
type mbRoot struct {
	src  int
	part uint32
	off  uint64
}

// mbItem is one delivery of a microbatch.
type mbItem struct {
	kind    abi.ItemKind
	stage   uint16
	depot   uint16
	offset  uint64
	srcPart uint32
	time    int64
	payload []byte
	root    mbRoot
}

// mbDead is a source record removed from a microbatch.
type mbDead struct {
	item   *mbItem
	reason string
	detail abi.ErrorDetail
}

// attemptResult is how one attempt of a microbatch ended.
type attemptResult struct {
	sb      *storage.Batch // ok: the batch to commit
	appends []appendRec
	poison  *mbDead // an item was poisoned or rejected: remove its root
	err     error   // the attempt failed: retry (or pause)
	stop    bool    // the module stops
}

type appendRec struct {
	depot *depotInfo
	part  uint32
}

// runMicrobatch runs microbatch r.next over ranges until it commits,
// pauses or the runner stops.
func (r *mbRunner) runMicrobatch(ranges [][][2]uint64) {
	n := r.next
	hdr := abi.BatchHeader{BatchID: n, Topology: r.ti.idx, TimeUnixNano: r.m.e.cfg.Clock().UnixNano(), Seed: r.rng.Uint64()}
	dead := map[mbRoot]*mbDead{}
	failures := 0
	for {
		res := r.attempt(&hdr, ranges, dead)
		switch {
		case res.stop:
			return
		case res.poison != nil:
			dead[res.poison.item.root] = res.poison
			hdr.Attempt++
			continue
		case res.err != nil:
			failures++
			hdr.Attempt++
			r.setStatus(func(s *MicrobatchStatus) { s.Attempts = failures; s.Error = res.err.Error() })
			r.m.e.log.Warn("engine: microbatch failed; it will be retried from scratch", "module", r.m.name, "topology", r.ti.def.Name,
				"microbatch", n, "failures", failures, "err", res.err)
			if failures >= r.m.e.cfg.MaxAttempts {
				r.pause(n, res.err)
				return
			}
			if !r.sleep(backoffDelay(r.m.e.cfg, r.rng, failures)) {
				return
			}
			continue
		}
		if err := r.commit(n, ranges, res, dead, hdr.TimeUnixNano); err != nil {
			if errors.Is(err, storage.ErrTooLarge) {
				err = fmt.Errorf("%w (lower the topology's max_records, now %d)", err, r.ti.def.BatchMaxRecords())
			}
			r.pause(n, fmt.Errorf("commit: %w", err))
		}
		return
	}
}

// pause stops the topology with err until the module is deployed again.
func (r *mbRunner) pause(n uint64, err error) {
	msg := fmt.Sprintf("microbatch %d failed %d times and the topology is paused; nothing of it was applied; "+
		"fix the module and update it (or restart the node) to retry: %v", n, r.Status().Attempts, err)
	r.setStatus(func(s *MicrobatchStatus) { s.Paused, s.Error = true, msg })
	r.m.e.log.Error("engine: microbatch topology paused", "module", r.m.name, "topology", r.ti.def.Name, "microbatch", n, "err", err)
}

// commit makes microbatch n durable and visible in one store write: the
// attempt's batch plus the dead letters and every partition's progress.
func (r *mbRunner) commit(n uint64, ranges [][][2]uint64, res attemptResult, dead map[mbRoot]*mbDead, batchTime int64) error {
	sb := res.sb
	defer sb.Close()
	m := r.m
	for _, d := range dead {
		rec := r.deadLetter(d, batchTime)
		if err := sb.Append(m.deadLetter, d.item.srcPart, rec); err != nil {
			return err
		}
		m.e.log.Warn("engine: microbatch record dead-lettered", "module", m.name, "topology", r.ti.def.Name,
			"partition", d.item.srcPart, "offset", d.item.offset, "reason", d.reason, "error", d.detail.Message)
	}
	ends := make([][]uint64, len(r.ends))
	for i := range ends {
		ends[i] = make([]uint64, m.tasks)
		for p := range m.tasks {
			ends[i][p] = ranges[i][p][1]
		}
	}
	for p := range m.tasks {
		if err := sb.SetProgress(m.name, r.ti.def.Name, p, encodeMBProgress(r.ti, n+1, ends, p)); err != nil {
			return err
		}
	}
	if _, err := sb.Commit(context.WithoutCancel(m.ctx)); err != nil {
		return err
	}
	r.mu.Lock()
	r.ends = ends
	r.next = n + 1
	r.status.Next, r.status.Attempts, r.status.Error = n+1, 0, ""
	r.status.DeadLettered += uint64(len(dead))
	r.mu.Unlock()
	for _, a := range res.appends {
		m.parts[a.part].kick()
		a.depot.kickMBs()
	}
	return nil
}

func (r *mbRunner) deadLetter(d *mbDead, batchTime int64) storage.Record {
	it := d.item
	dl := DeadLetter{Topology: r.ti.def.Name, Stage: r.ti.def.Stages[it.stage], Partition: it.srcPart, SourcePartition: it.srcPart,
		Depot: r.m.def.Depots[it.depot].Name, Offset: it.offset, Reason: d.reason, Error: d.detail, BatchTime: batchTime}
	if v, err := abi.Decode(it.payload); err == nil {
		dl.Payload = v
	} else {
		dl.Payload = abi.Bytes(it.payload)
	}
	enc, err := abi.Encode(dl.Value())
	if err != nil || len(enc) > storage.MaxRecordSize/2 {
		dl.Payload = abi.String(fmt.Sprintf("(omitted: %d bytes)", len(it.payload)))
		enc, _ = abi.Encode(dl.Value())
	}
	return storage.Record{Value: enc}
}

// attempt runs one attempt of a microbatch: the records of ranges (but
// those of dead roots), then the hops they send, until none is left.
func (r *mbRunner) attempt(hdr *abi.BatchHeader, ranges [][][2]uint64, dead map[mbRoot]*mbDead) attemptResult {
	m := r.m
	tasks := m.tasks
	queues := make([][]*mbItem, tasks)
	for p := range tasks {
		for i, s := range r.ti.sources {
			lo, hi := ranges[i][p][0], ranges[i][p][1]
			for lo < hi {
				entries, err := s.depot.d.Read(p, lo, int(hi-lo))
				var oe *storage.OffsetError
				if errors.As(err, &oe) && errors.Is(err, storage.ErrTrimmed) {
					lo = oe.First
					continue
				}
				if err != nil {
					return attemptResult{err: fmt.Errorf("read depot %q partition %d: %w", s.depot.def.Name, p, err)}
				}
				if len(entries) == 0 {
					break
				}
				for _, en := range entries {
					if en.Offset >= hi {
						break
					}
					root := mbRoot{i, p, en.Offset}
					lo = en.Offset + 1
					if dead[root] != nil {
						continue
					}
					queues[p] = append(queues[p], &mbItem{kind: abi.ItemRecord, stage: s.stage, depot: s.depot.idx,
						offset: en.Offset, srcPart: p, time: en.Time, payload: en.Value, root: root})
				}
			}
		}
	}
	sb := m.e.db.NewBatch()
	ok := false
	defer func() {
		if !ok {
			sb.Close()
		}
	}()
	choose := chooser(hdr.Seed, tasks)
	var appends []appendRec
	delivered := 0
	deadline := time.Now().Add(m.e.cfg.MicrobatchTimeout)
	for {
		pending := false
		for p := range tasks {
			for len(queues[p]) > 0 {
				pending = true
				if r.stopped() && m.ctx.Err() != nil {
					return attemptResult{stop: true}
				}
				n := min(len(queues[p]), m.e.cfg.MaxBatchItems)
				bytes := 0
				for i := range n {
					bytes += len(queues[p][i].payload)
					if bytes >= m.e.cfg.MaxBatchBytes {
						n = i + 1
						break
					}
				}
				chunk := queues[p][:n:n]
				queues[p] = queues[p][n:]
				delivered += n
				if time.Now().After(deadline) {
					return attemptResult{err: fmt.Errorf("microbatch %d ran longer than %s (%d items delivered so far); is there a hop loop, or is max_records too large?",
						hdr.BatchID, m.e.cfg.MicrobatchTimeout, delivered)}
				}
				if delivered > maxMicrobatchDeliveries {
					return attemptResult{err: fmt.Errorf("microbatch %d delivered more than %d items (records and hops); is there a hop loop?",
						hdr.BatchID, maxMicrobatchDeliveries)}
				}
				h := *hdr
				h.Partition = p
				frame := buildMBFrame(&h, chunk)
				c := &mbCall{callCore: callCore{check: abi.NewProcessCheck(uint32(len(chunk)))},
					r: r, sb: sb, frame: frame, items: chunk, outs: make(itemStates, len(chunk)), choose: choose}
				if err := r.process(frame, c); err != nil {
					if m.ctx.Err() != nil {
						return attemptResult{stop: true}
					}
					if c.fail != nil && c.internal {
						return attemptResult{err: c.fail}
					}
					return attemptResult{err: err}
				}
				for i := range c.outs {
					out := &c.outs[i]
					switch {
					case out.rejected:
						return attemptResult{poison: r.rootOf(chunk[i], "the host rejected an effect", out.detail)}
					case out.outcome == abi.OutcomePoison:
						return attemptResult{poison: r.rootOf(chunk[i], "poison", out.detail)}
					case out.outcome == abi.OutcomeRetry:
						return attemptResult{err: fmt.Errorf("stage %q on partition %d asked for a retry: %s",
							r.ti.def.Stages[chunk[i].stage], p, detailText(out.detail))}
					}
				}
				for i := range c.outs {
					for _, ho := range c.outs[i].hops {
						first, last := ho.part, ho.part
						if ho.all {
							first, last = 0, tasks-1
						}
						for q := first; q <= last; q++ {
							queues[q] = append(queues[q], &mbItem{kind: abi.ItemHop, stage: ho.stage, depot: abi.NoDepot,
								srcPart: p, time: hdr.TimeUnixNano, payload: ho.payload, root: chunk[i].root})
						}
					}
				}
				appends = append(appends, c.appends...)
			}
		}
		if !pending {
			break
		}
	}
	ok = true
	return attemptResult{sb: sb, appends: appends}
}

// rootOf returns the record at the root of it, to be removed.
func (r *mbRunner) rootOf(it *mbItem, reason string, d abi.ErrorDetail) *mbDead {
	root := it
	if it.kind != abi.ItemRecord {
		// Find the record: re-read it from its depot.
		s := r.ti.sources[it.root.src]
		root = &mbItem{kind: abi.ItemRecord, stage: s.stage, depot: s.depot.idx, offset: it.root.off, srcPart: it.root.part, root: it.root}
		if es, err := s.depot.d.Read(it.root.part, it.root.off, 1); err == nil && len(es) == 1 {
			root.payload = es[0].Value
		}
		reason += " (in stage " + r.ti.def.Stages[it.stage] + ", a hop from this record)"
	}
	return &mbDead{item: root, reason: reason, detail: d}
}

func detailText(d abi.ErrorDetail) string {
	if d.Kind != "" {
		return d.Kind + ": " + d.Message
	}
	return d.Message
}

func buildMBFrame(hdr *abi.BatchHeader, items []*mbItem) *abi.BatchFrame {
	f := &abi.BatchFrame{Header: *hdr, Items: make([]abi.BatchItem, len(items))}
	att := uint16(min(hdr.Attempt, 0xFFFF))
	for i, it := range items {
		f.Items[i] = abi.BatchItem{Kind: it.kind, Stage: it.stage, Depot: it.depot, Attempt: att,
			SourcePartition: it.srcPart, Offset: it.offset, EventTimeUnixNano: it.time, Payload: it.payload}
	}
	return f
}

// process runs one call on the runner's processor, creating it first.
func (r *mbRunner) process(frame *abi.BatchFrame, c *mbCall) error {
	if r.proc == nil {
		p, err := r.m.newProc(r.m.ctx, 0)
		if err != nil {
			return fmt.Errorf("start a processor: %w", err)
		}
		r.proc = p
	}
	ctx, cancel := context.WithTimeout(r.m.ctx, r.m.e.cfg.CallTimeout)
	defer cancel()
	if err := runCall(ctx, r.proc, frame, c); err != nil {
		r.discard()
		return err
	}
	return nil
}

func (r *mbRunner) discard() {
	if r.proc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.proc.Close(ctx); err != nil {
		r.m.e.log.Warn("engine: closing a processor failed", "module", r.m.name, "topology", r.ti.def.Name, "err", err)
	}
	r.proc = nil
}

// backoffDelay returns the delay before retry n (n ≥ 1), as task.backoff.
func backoffDelay(cfg Config, rng *rand.Rand, n int) time.Duration {
	d := cfg.BackoffBase
	for i := 1; i < n && d < cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, cfg.BackoffMax)
	half := d / 2
	return half + time.Duration(rng.Int64N(int64(d-half)+1))
}

// mbCall is the Handler of one call of a microbatch.
type mbCall struct {
	callCore
	r      *mbRunner
	sb     *storage.Batch
	frame  *abi.BatchFrame
	items  []*mbItem
	outs   itemStates
	choose func() uint32

	appends []appendRec
}

// Effects implements Handler.
func (c *mbCall) Effects(ctx context.Context, effs []abi.Effect) []abi.Rejection {
	return c.effects(ctx, effs, c)
}

func (c *mbCall) core() *callCore { return &c.callCore }

func (c *mbCall) item(i uint32) *itemState { return c.outs.at(i) }

func (c *mbCall) log(ctx context.Context, e *abi.Effect) {
	logEffect(ctx, c.r.m, c.r.ti.def.Name, c.frame.Header.Partition, c.frame.Header.BatchID, e)
}

// applyItem applies an effect of a live item (see callKind).
func (c *mbCall) applyItem(_ context.Context, e *abi.Effect) (abi.Errno, string) {
	m := c.r.m
	part := c.frame.Header.Partition
	out := &c.outs[e.Item] // CallCheck checked the index
	topo := int(c.r.ti.idx)
	switch e.Op {
	case abi.EffectTransform, abi.EffectAggregate:
		var code abi.Errno
		var msg string
		var fatal error
		if e.Op == abi.EffectTransform {
			code, msg, fatal = m.applyTransform(c.sb, part, topo, e)
		} else {
			code, msg, fatal = m.applyAggregate(c.sb, part, topo, e)
		}
		if fatal != nil {
			c.failWith(fmt.Errorf("engine: module %q topology %q: %w", m.name, c.r.ti.def.Name, fatal), true)
		}
		return code, msg
	case abi.EffectAppend:
		d, p, key, enc, code, msg := m.appendTarget(e, part, c.choose)
		if code != 0 {
			return code, msg
		}
		if err := c.sb.Append(d.d, p, storage.Record{Key: key, Value: enc}); err != nil {
			code, msg, fatal := rejectStore(err)
			if fatal != nil {
				c.failWith(fatal, true)
			}
			return code, msg
		}
		c.appends = append(c.appends, appendRec{depot: d, part: p})
		return 0, ""
	case abi.EffectHop:
		return out.hop(m, e, len(c.r.ti.def.Stages), c.items[e.Item].root.part, c.choose)
	case abi.EffectEmit:
		switch e.Target {
		case abi.EmitAckReturn:
			return 0, "" // microbatch topologies do not take part in ACK: accepted and dropped
		case abi.EmitQueryResult:
			return abi.EINVAL, "EMIT on QUERY_RESULT is allowed only in a query topology"
		}
		return abi.EBADID, fmt.Sprintf("emit stream %d does not exist", e.Target)
	}
	return abi.EINVAL, "op " + e.Op.String() + " is not allowed in squall_process"
}

// Query implements Handler: reads see the microbatch's staged writes.
func (c *mbCall) Query(ctx context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	if c.fail != nil && c.internal {
		return nil
	}
	resp := &abi.QueryResponse{Results: make([]abi.Result, len(q.Queries))}
	for i := range q.Queries {
		qq := &q.Queries[i]
		if qq.Op == abi.QueryInvoke {
			resp.Results[i] = c.r.m.invokeFromStage(ctx, qq, 0)
			continue
		}
		res, fatal := c.r.m.selectQuery(c.sb, c.frame.Header.Partition, qq)
		if fatal != nil {
			c.failWith(fmt.Errorf("engine: module %q topology %q: %w", c.r.m.name, c.r.ti.def.Name, fatal), true)
			return nil
		}
		resp.Results[i] = res
	}
	return resp
}
