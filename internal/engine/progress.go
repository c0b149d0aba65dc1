package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/squall-run/squall/abi"
)

// The progress record of a topology on a partition (storage.Batch.
// SetProgress) is a canonical MessagePack map:
//
//	{"batch": next batch id,
//	 "sources": [[depot name, stage name, low, hi, [gaps...]], ...]}
//
// For each source, the records whose processing trees were not complete
// when the record was committed are low, the offsets listed (each given as
// its distance from the previous one, starting from low) and every offset
// from hi on; every other record below hi was completely processed. After
// a restart exactly those records are processed again. At most
// maxListed offsets are listed; when more were in flight, hi is the first
// one left out (replaying more than necessary is always safe). Sources
// are named, not numbered, so that the record survives a module update
// that reorders the definition.

// maxListed bounds the in-flight offsets a progress record lists per
// source.
const maxListed = 256

type srcKey struct{ depot, stage string }

type progress struct {
	batch uint64
	srcs  map[srcKey]srcProgress
}

// srcProgress is the progress of one source: see above.
type srcProgress struct {
	low, hi  uint64
	inflight []uint64 // increasing, in (low, hi)
}

func (p *srcProgress) equal(q *srcProgress) bool {
	return p.low == q.low && p.hi == q.hi && slices.Equal(p.inflight, q.inflight)
}

// done reports whether the record at off was completely processed,
// according to p, among the records in (low, hi).
func (p *srcProgress) done(off uint64) bool {
	if off <= p.low || off >= p.hi {
		return false
	}
	_, found := slices.BinarySearch(p.inflight, off)
	return !found
}

// remaining counts the records of [first, next) that p does not say are
// done.
func (p *srcProgress) remaining(first, next uint64) uint64 {
	if p.low < first {
		return next - min(first, next)
	}
	if p.low >= next {
		return 0
	}
	n := uint64(1)
	for _, off := range p.inflight {
		if off < next {
			n++
		}
	}
	if next > p.hi {
		n += next - p.hi
	}
	return n
}

func encodeProgress(ts *topoState, ps []srcProgress) []byte {
	srcs := make([]abi.Value, len(ts.sources))
	for i, s := range ts.sources {
		p := &ps[i]
		gaps := make([]abi.Value, len(p.inflight))
		prev := p.low
		for j, off := range p.inflight {
			gaps[j] = abi.Int(int64(off - prev))
			prev = off
		}
		srcs[i] = abi.List(abi.String(s.info.depot.def.Name), abi.String(ts.info.def.Stages[s.info.stage]),
			abi.Int(int64(p.low)), abi.Int(int64(p.hi)), abi.List(gaps...))
	}
	b, err := abi.Encode(abi.Map(
		abi.MapEntry{Key: abi.String("batch"), Val: abi.Int(int64(ts.nextBatch))},
		abi.MapEntry{Key: abi.String("sources"), Val: abi.List(srcs...)},
	))
	if err != nil {
		// Names are valid strings and numbers are ints: encoding cannot
		// fail. Write an empty record rather than nothing.
		return []byte{0x80}
	}
	return b
}

func decodeProgress(b []byte) (progress, error) {
	bad := func(why string) (progress, error) {
		return progress{}, fmt.Errorf("engine: the progress record is damaged: %s", why)
	}
	v, err := abi.Decode(b)
	if err != nil {
		return bad(err.Error())
	}
	p := progress{srcs: map[srcKey]srcProgress{}}
	if bv, ok := v.Get(abi.String("batch")); ok {
		n, ok := bv.AsInt()
		if !ok || n < 0 {
			return bad("batch is not a non-negative int")
		}
		p.batch = uint64(n)
	}
	sv, _ := v.Get(abi.String("sources"))
	if sv.Kind() != abi.KindList && !sv.IsNil() {
		return bad("sources is not a list")
	}
	const shape = "a source is not [depot, stage, low, hi, [gaps...]]"
	for _, s := range sv.Items() {
		if s.Kind() != abi.KindList || s.Len() != 5 || s.Index(4).Kind() != abi.KindList {
			return bad(shape)
		}
		d, ok1 := s.Index(0).AsString()
		st, ok2 := s.Index(1).AsString()
		low, ok3 := s.Index(2).AsInt()
		hi, ok4 := s.Index(3).AsInt()
		if !ok1 || !ok2 || !ok3 || !ok4 || low < 0 || hi < low {
			return bad(shape)
		}
		sp := srcProgress{low: uint64(low), hi: uint64(hi)}
		prev := sp.low
		for _, g := range s.Index(4).Items() {
			n, ok := g.AsInt()
			if !ok || n <= 0 || prev+uint64(n) >= sp.hi {
				return bad("an in-flight offset is not between low and hi, increasing")
			}
			prev += uint64(n)
			sp.inflight = append(sp.inflight, prev)
		}
		p.srcs[srcKey{d, st}] = sp
	}
	return p, nil
}

// DeadLetter is a record of the dead-letter depot ([DeadLetterDepot]): an
// item that was poisoned by its stage, had an effect rejected, or failed
// MaxAttempts times. Its processing tree went on without it.
type DeadLetter struct {
	Topology, Stage string
	// Partition is where the item failed; SourcePartition is the depot
	// partition of a record, or the partition that sent a hop.
	Partition, SourcePartition uint32
	// Depot and Offset locate a record item; Depot is empty for a hop.
	Depot  string
	Offset uint64
	// Payload is the record or hop payload.
	Payload abi.Value
	// Attempts counts the item's failed deliveries.
	Attempts int
	// Reason says why the item was dead-lettered; Error is the last error.
	Reason string
	Error  abi.ErrorDetail
	// BatchTime is the time of the batch that dead-lettered the item, in
	// Unix nanoseconds.
	BatchTime int64
}

// Value returns the record form of d.
func (d *DeadLetter) Value() abi.Value {
	e := func(k string, v abi.Value) abi.MapEntry { return abi.MapEntry{Key: abi.String(k), Val: v} }
	es := []abi.MapEntry{
		e("topology", abi.String(d.Topology)),
		e("stage", abi.String(d.Stage)),
		e("partition", abi.Int(int64(d.Partition))),
		e("source_partition", abi.Int(int64(d.SourcePartition))),
		e("payload", d.Payload),
		e("attempts", abi.Int(int64(d.Attempts))),
		e("reason", abi.String(d.Reason)),
		e("error", d.Error.Value()),
		e("batch_time", abi.Int(d.BatchTime)),
	}
	if d.Depot != "" {
		es = append(es, e("depot", abi.String(d.Depot)), e("offset", abi.Int(int64(d.Offset))))
	}
	return abi.Map(es...)
}

// ParseDeadLetter reads a record of the dead-letter depot.
func ParseDeadLetter(b []byte) (DeadLetter, error) {
	v, err := abi.Decode(b)
	if err != nil {
		return DeadLetter{}, err
	}
	if v.Kind() != abi.KindMap {
		return DeadLetter{}, errors.New("engine: a dead letter is a map")
	}
	str := func(k string) string {
		x, _ := v.Get(abi.String(k))
		s, _ := x.AsString()
		return s
	}
	num := func(k string) int64 {
		x, _ := v.Get(abi.String(k))
		n, _ := x.AsInt()
		return n
	}
	d := DeadLetter{
		Topology:        str("topology"),
		Stage:           str("stage"),
		Partition:       uint32(num("partition")),
		SourcePartition: uint32(num("source_partition")),
		Depot:           str("depot"),
		Offset:          uint64(num("offset")),
		Attempts:        int(num("attempts")),
		Reason:          str("reason"),
		BatchTime:       num("batch_time"),
	}
	d.Payload, _ = v.Get(abi.String("payload"))
	if ev, ok := v.Get(abi.String("error")); ok {
		get := func(k string) string {
			x, _ := ev.Get(abi.String(k))
			s, _ := x.AsString()
			return s
		}
		d.Error = abi.ErrorDetail{Kind: get("kind"), Message: get("message"), Stack: get("stack")}
	}
	return d, nil
}
