package apibench_test

import (
	"context"
	"fmt"
	"strconv"

	"connectrpc.com/connect"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apibench"
	"github.com/squall-run/squall/internal/apiconv"
)

// The scenarios: each returns the operation that workers run, shared by
// the benchmarks and the smoke test.

// appendOp appends one record with ack level ack.
func appendOp(s *squall, w *workload, ack squallv1.AckLevel) apibench.Op {
	return func(ctx context.Context, _, i int) error {
		res, err := s.depots.Append(ctx, connect.NewRequest(&squallv1.AppendRequest{Module: module, Depot: depot,
			Record: w.records[i%len(w.records)], AckLevel: ack}))
		if err != nil {
			return err
		}
		if ack == squallv1.AckLevel_ACK_LEVEL_ACK && res.Msg.GetAckReturns()[module].GetIntValue() != perSent {
			return fmt.Errorf("ack return %v, want %d words", res.Msg.GetAckReturns(), perSent)
		}
		return nil
	}
}

// batchOp appends size records in one AppendBatch with APPEND_ACK.
func batchOp(s *squall, w *workload, size int) apibench.Op {
	return func(ctx context.Context, _, i int) error {
		recs := make([]*squallv1.Value, size)
		for j := range recs {
			recs[j] = w.records[(i*size+j)%len(w.records)]
		}
		res, err := s.depots.AppendBatch(ctx, connect.NewRequest(&squallv1.AppendBatchRequest{Module: module, Depot: depot,
			Records: recs, AckLevel: squallv1.AckLevel_ACK_LEVEL_APPEND_ACK}))
		if err != nil {
			return err
		}
		if n := len(res.Msg.GetResults()); n != size {
			return fmt.Errorf("%d results for %d records", n, size)
		}
		return nil
	}
}

// selectOp reads one word's count (present: see squall.preload).
func selectOp(s *squall) apibench.Op {
	paths := make([]*squallv1.Path, vocab)
	for k := range paths {
		paths[k], _ = apiconv.PathToProto(abi.P().Key(abi.String(word(k))))
	}
	return func(ctx context.Context, _, i int) error {
		k := (i * 7919) % vocab // spread the keys over the partitions
		res, err := s.pstates.SelectOne(ctx, connect.NewRequest(&squallv1.SelectOneRequest{Module: module, Pstate: pstate, Path: paths[k]}))
		if err != nil {
			return err
		}
		if _, ok := res.Msg.GetValue().GetKind().(*squallv1.Value_IntValue); !ok {
			return fmt.Errorf("select %s: got %v, want a count", word(k), res.Msg.GetValue())
		}
		return nil
	}
}

// redisSetOp SETs one record's JSON on worker w's connection. Keys cycle
// over 100,000 so memory stays bounded on long runs.
func redisSetOp(p *redisPeer, w *workload) apibench.Op {
	return func(_ context.Context, wk, i int) error {
		return p.conns[wk].Set([]byte("sentence:"+strconv.Itoa(i%100000)), w.json[i%len(w.json)])
	}
}

// redisGetOp GETs one word's count (present: see redisPeer.preloadCounts).
func redisGetOp(p *redisPeer) apibench.Op {
	keys := make([][]byte, vocab)
	for k := range keys {
		keys[k] = []byte(word(k))
	}
	return func(_ context.Context, wk, i int) error {
		k := (i * 7919) % vocab
		_, ok, err := p.conns[wk].Get(keys[k])
		if err == nil && !ok {
			err = fmt.Errorf("GET %s: absent", keys[k])
		}
		return err
	}
}
