package server

import (
	"context"
	"errors"
	"slices"

	"connectrpc.com/connect"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
	"github.com/squall-run/squall/internal/engine"
)

type depotService struct{ s *Server }

// checkDepot returns a notFoundError unless module has depot.
func (s *Server) checkDepot(module, depot string) error {
	d, err := s.cfg.Registry.get(module)
	if err != nil {
		return err
	}
	var names []string
	for _, dp := range d.def.Depots {
		if dp.Name == depot {
			return nil
		}
		names = append(names, dp.Name)
	}
	slices.Sort(names)
	return &notFoundError{kind: "depot", name: depot, module: module, have: names}
}

func (d *depotService) Append(ctx context.Context, req *connect.Request[squallv1.AppendRequest]) (*connect.Response[squallv1.AppendResponse], error) {
	msg := req.Msg
	if err := d.s.checkDepot(msg.GetModule(), msg.GetDepot()); err != nil {
		return nil, err
	}
	rec, err := apiconv.ValueFromProto("record", msg.GetRecord())
	if err != nil {
		return nil, err
	}
	ack, err := apiconv.AckLevelFromProto(msg.GetAckLevel())
	if err != nil {
		return nil, err
	}
	res, err := d.s.cfg.Engine.AppendToDepot(ctx, msg.GetModule(), msg.GetDepot(), rec, ack)
	if pe, ok := errors.AsType[*engine.ProcessingError](err); ok {
		return nil, &processingFailure{pe: pe, detail: &squallv1.AppendProcessingFailure{
			Partition: res.Partition, Offset: res.Offset, AckReturns: apiconv.ValueMapToProto(res.AckReturns), Failures: pe.Failures}}
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.AppendResponse{Partition: res.Partition, Offset: res.Offset,
		AckReturns: apiconv.ValueMapToProto(res.AckReturns)}), nil
}

func (d *depotService) AppendBatch(ctx context.Context, req *connect.Request[squallv1.AppendBatchRequest]) (*connect.Response[squallv1.AppendBatchResponse], error) {
	msg := req.Msg
	if err := d.s.checkDepot(msg.GetModule(), msg.GetDepot()); err != nil {
		return nil, err
	}
	recs, err := apiconv.ValuesFromProto("records", msg.GetRecords())
	if err != nil {
		return nil, err
	}
	ack, err := apiconv.AckLevelFromProto(msg.GetAckLevel())
	if err != nil {
		return nil, err
	}
	// Records are appended concurrently, so that an ACK batch waits for
	// its slowest record rather than for the sum.
	results := make([]*squallv1.AppendResult, len(recs))
	errs := make([]error, len(recs))
	done := make(chan int, len(recs))
	sem := make(chan struct{}, 64)
	for i, rec := range recs {
		sem <- struct{}{}
		go func(i int, rec abi.Value) {
			defer func() { <-sem; done <- i }()
			res, err := d.s.cfg.Engine.AppendToDepot(ctx, msg.GetModule(), msg.GetDepot(), rec, ack)
			r := &squallv1.AppendResult{Partition: res.Partition, Offset: res.Offset, AckReturns: apiconv.ValueMapToProto(res.AckReturns)}
			if pe, ok := errors.AsType[*engine.ProcessingError](err); ok {
				r.Failures, err = pe.Failures, nil
			}
			results[i], errs[i] = r, err
		}(i, rec)
	}
	for range recs {
		<-done
	}
	// Every record was checked before any was appended, so an error here
	// is the engine's (closing, a deadline): the other records may have
	// been appended, as with any failed acknowledgment.
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.AppendBatchResponse{Results: results}), nil
}
