package engine

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/squall-run/squall/abi"
)

// ackHub matches the processing trees of one depot's records, as they
// complete, with the appends waiting for them: ACK appends of clients, and
// ACK appends made by topologies, which link the new record's trees into
// the tree of the item that appended it ("links").
//
// An appender learns its record's offset only once the append is durable,
// and by then a task may already have processed the record. So an
// appender first calls begin with a floor (the partition's next offset
// before the append: its record's offset is at least that), then appends,
// then calls resolve with the offset. While any begin is unresolved, the
// hub keeps the completions of offsets at or above the lowest floor
// ("early" completions), and resolve finds its record's there. Completions
// nobody can be waiting for are dropped at once (one atomic load).
type ackHub struct {
	// active counts floors and registered waiters; complete returns at
	// once when it is zero.
	active atomic.Int32

	mu       sync.Mutex
	parts    map[uint32]*ackPart
	closed   error // set by close: waiters finish with it
	draining bool  // links resolve at once (failed): the engine is closing
}

type ackPart struct {
	floors  []uint64
	waiters map[uint64]*ackWaiter
	early   map[uint64]*ackWaiter
}

// ackWaiter collects the completions of one record's processing trees:
// need of them, one per (topology, source) reading the depot.
type ackWaiter struct {
	need, got int
	rets      map[string]abi.Value
	failures  []string
	err       error

	done chan struct{}    // a client's: closed when finished
	fn   func(*ackWaiter) // a link's: called when finished
}

// maxFailures bounds the failure lines an ACK waiter keeps.
const maxFailures = 8

type ackToken struct {
	part  uint32
	floor uint64
}

func newAckHub() *ackHub { return &ackHub{parts: map[uint32]*ackPart{}} }

func newClientWaiter(need int) *ackWaiter {
	return &ackWaiter{need: need, done: make(chan struct{})}
}

func (w *ackWaiter) merge(o *ackWaiter) {
	w.got += o.got
	for k, v := range o.rets {
		w.add(k, v, true, "")
	}
	for _, f := range o.failures {
		w.add("", abi.Nil(), false, f)
	}
}

func (w *ackWaiter) add(topo string, ret abi.Value, hasRet bool, failure string) {
	if hasRet {
		if w.rets == nil {
			w.rets = map[string]abi.Value{}
		}
		w.rets[topo] = ret
	}
	if failure != "" && len(w.failures) < maxFailures {
		w.failures = append(w.failures, failure)
	}
}

func (w *ackWaiter) finish() {
	if w.fn != nil {
		w.fn(w)
		return
	}
	close(w.done)
}

func (h *ackHub) part(p uint32) *ackPart {
	ap := h.parts[p]
	if ap == nil {
		ap = &ackPart{waiters: map[uint64]*ackWaiter{}}
		h.parts[p] = ap
	}
	return ap
}

// begin announces an append to partition p whose offset will be at least
// floor.
func (h *ackHub) begin(p uint32, floor uint64) ackToken {
	h.mu.Lock()
	ap := h.part(p)
	ap.floors = append(ap.floors, floor)
	h.active.Add(1)
	h.mu.Unlock()
	return ackToken{part: p, floor: floor}
}

// endFloor removes a floor of begin and forgets early completions below
// the remaining floors. h.mu is held.
func (h *ackHub) endFloor(tok ackToken) *ackPart {
	ap := h.parts[tok.part]
	if i := slices.Index(ap.floors, tok.floor); i >= 0 {
		ap.floors = slices.Delete(ap.floors, i, i+1)
		h.active.Add(-1)
	}
	if len(ap.floors) == 0 {
		ap.early = nil
	} else if len(ap.early) > 0 {
		low := slices.Min(ap.floors)
		for off := range ap.early {
			if off < low {
				delete(ap.early, off)
			}
		}
	}
	return ap
}

// abort ends a begin whose append failed.
func (h *ackHub) abort(tok ackToken) {
	h.mu.Lock()
	h.endFloor(tok)
	h.mu.Unlock()
}

// resolve ends a begin whose append got offset off: w finishes once the
// record's trees are complete (perhaps at once).
func (h *ackHub) resolve(tok ackToken, off uint64, w *ackWaiter) {
	h.mu.Lock()
	// Take the record's early completion before ending the floor: ending
	// the last floor forgets every early completion, this one included, and
	// the waiter would wait for a completion that already happened.
	if ap := h.parts[tok.part]; ap != nil {
		if e := ap.early[off]; e != nil {
			delete(ap.early, off)
			w.merge(e)
		}
	}
	ap := h.endFloor(tok)
	switch {
	case h.closed != nil:
		w.err = h.closed
	case w.got >= w.need:
	case h.draining && w.fn != nil:
		w.add("", abi.Nil(), false, "the engine closed before the appended record was processed")
	default:
		ap.waiters[off] = w
		h.active.Add(1)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	w.finish()
}

// cancel forgets a client waiter that stopped waiting.
func (h *ackHub) cancel(p uint32, off uint64, w *ackWaiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ap := h.parts[p]; ap != nil && ap.waiters[off] == w {
		delete(ap.waiters, off)
		h.active.Add(-1)
	}
}

// complete reports that the processing tree of record off of partition p,
// in topology topo, is complete, with its ack return and failure ("" when
// none).
func (h *ackHub) complete(p uint32, off uint64, topo string, ret abi.Value, hasRet bool, failure string) {
	if h.active.Load() == 0 {
		return
	}
	h.mu.Lock()
	ap := h.parts[p]
	if ap == nil {
		h.mu.Unlock()
		return
	}
	if w := ap.waiters[off]; w != nil {
		w.got++
		w.add(topo, ret, hasRet, failure)
		if w.got < w.need {
			h.mu.Unlock()
			return
		}
		delete(ap.waiters, off)
		h.active.Add(-1)
		h.mu.Unlock()
		w.finish()
		return
	}
	if len(ap.floors) > 0 && off >= slices.Min(ap.floors) {
		if ap.early == nil {
			ap.early = map[uint64]*ackWaiter{}
		}
		e := ap.early[off]
		if e == nil {
			e = &ackWaiter{}
			ap.early[off] = e
		}
		e.got++
		e.add(topo, ret, hasRet, failure)
	}
	h.mu.Unlock()
}

// drainLinks finishes every link now, as failed, and makes later links
// finish at once: a closing engine reads no new records, so the appended
// records would not be processed before it stops. (They are processed
// after a restart, as roots of their own trees.)
func (h *ackHub) drainLinks() {
	h.mu.Lock()
	h.draining = true
	var links []*ackWaiter
	for _, ap := range h.parts {
		for off, w := range ap.waiters {
			if w.fn != nil {
				delete(ap.waiters, off)
				h.active.Add(-1)
				w.add("", abi.Nil(), false, "the engine closed before the appended record was processed")
				links = append(links, w)
			}
		}
	}
	h.mu.Unlock()
	for _, w := range links {
		w.finish()
	}
}

// close finishes every waiter with err.
func (h *ackHub) close(err error) {
	h.mu.Lock()
	h.closed = err
	var ws []*ackWaiter
	for _, ap := range h.parts {
		for off, w := range ap.waiters {
			delete(ap.waiters, off)
			h.active.Add(-1)
			w.err = err
			ws = append(ws, w)
		}
	}
	h.mu.Unlock()
	for _, w := range ws {
		w.finish()
	}
}
