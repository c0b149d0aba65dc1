package engine

import (
	"errors"
	"fmt"

	"github.com/squall-run/squall/abi"
)

// The progress record of a topology on a partition (storage.Batch.
// SetProgress) is a canonical MessagePack map:
//
//	{"batch": next batch id,
//	 "sources": [[depot name, stage name, low offset], ...]}
//
// Sources are named, not numbered, so that the record survives a module
// update that reorders the definition. Every record of a source below its
// low offset has been completely processed (its whole processing tree
// committed); records from low on are read again after a restart.

type srcKey struct{ depot, stage string }

type progress struct {
	batch uint64
	lows  map[srcKey]uint64
}

func encodeProgress(ts *topoState, lows []uint64) []byte {
	srcs := make([]abi.Value, len(ts.sources))
	for i, s := range ts.sources {
		srcs[i] = abi.List(abi.String(s.info.depot.def.Name), abi.String(ts.info.def.Stages[s.info.stage]), abi.Int(int64(lows[i])))
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
	p := progress{lows: map[srcKey]uint64{}}
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
	for _, s := range sv.Items() {
		if s.Kind() != abi.KindList || s.Len() != 3 {
			return bad("a source is not [depot, stage, offset]")
		}
		d, ok1 := s.Index(0).AsString()
		st, ok2 := s.Index(1).AsString()
		off, ok3 := s.Index(2).AsInt()
		if !ok1 || !ok2 || !ok3 || off < 0 {
			return bad("a source is not [depot, stage, offset]")
		}
		p.lows[srcKey{d, st}] = uint64(off)
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
