package server

import (
	"context"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

type pstateService struct{ s *Server }

// selectValues runs a select after checking the module and the PState.
func (s *Server) selectValues(ctx context.Context, module, pstate string, path *squallv1.Path, partition *uint32) ([]abi.Value, error) {
	d, err := s.cfg.Registry.get(module)
	if err != nil {
		return nil, err
	}
	var names []string
	found, global := false, false
	for _, ps := range d.def.PStates {
		if ps.Name == pstate {
			found, global = true, ps.Global
		}
		names = append(names, ps.Name)
	}
	if !found {
		slices.Sort(names)
		return nil, &notFoundError{kind: "PState", name: pstate, module: module, have: names}
	}
	p, err := apiconv.PathFromProto("path", path, abi.ModeSelect)
	if err != nil {
		return nil, err
	}
	if partition == nil && !global && (len(p) == 0 || (p[0].Op != abi.OpKey && p[0].Op != abi.OpMustKey)) {
		return nil, badRequest("path: a select on PState %q must start with key or mustKey, whose key picks the partition to read; to read a whole partition, set partition (squall select --partition N)", pstate)
	}
	if partition != nil {
		return s.cfg.Engine.SelectPartition(ctx, module, pstate, *partition, p)
	}
	return s.cfg.Engine.Select(ctx, module, pstate, p)
}

func (p *pstateService) Select(ctx context.Context, req *connect.Request[squallv1.SelectRequest]) (*connect.Response[squallv1.SelectResponse], error) {
	m := req.Msg
	vs, err := p.s.selectValues(ctx, m.GetModule(), m.GetPstate(), m.GetPath(), m.Partition)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.SelectResponse{Values: apiconv.ValuesToProto(vs)}), nil
}

func (p *pstateService) SelectOne(ctx context.Context, req *connect.Request[squallv1.SelectOneRequest]) (*connect.Response[squallv1.SelectOneResponse], error) {
	m := req.Msg
	vs, err := p.s.selectValues(ctx, m.GetModule(), m.GetPstate(), m.GetPath(), m.Partition)
	if err != nil {
		return nil, err
	}
	if len(vs) != 1 {
		return nil, failedPrecondition("the path navigates to %d values; SelectOne needs exactly one (use Select for several)", len(vs))
	}
	return connect.NewResponse(&squallv1.SelectOneResponse{Value: apiconv.ValueToProto(vs[0])}), nil
}

const reactiveMsg = "reactive queries (Watch) are coming: this node does not stream PState diffs yet; poll with Select meanwhile"

func (p *pstateService) Watch(ctx context.Context, req *connect.Request[squallv1.WatchRequest], st *connect.ServerStream[squallv1.WatchResponse]) error {
	return unimplemented(reactiveMsg)
}

func (p *pstateService) ModifyWatch(ctx context.Context, req *connect.Request[squallv1.ModifyWatchRequest]) (*connect.Response[squallv1.ModifyWatchResponse], error) {
	return nil, unimplemented(reactiveMsg)
}

type queryService struct{ s *Server }

func (q *queryService) Invoke(ctx context.Context, req *connect.Request[squallv1.InvokeRequest]) (*connect.Response[squallv1.InvokeResponse], error) {
	m := req.Msg
	if _, err := q.s.cfg.Registry.get(m.GetModule()); err != nil {
		return nil, err
	}
	args, err := apiconv.ValuesFromProto("args", m.GetArgs())
	if err != nil {
		return nil, err
	}
	// The deadline is the request's; without one, the engine's default.
	timeout := time.Duration(0)
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	v, err := q.s.cfg.Engine.Invoke(ctx, m.GetModule(), m.GetQuery(), args, timeout)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.InvokeResponse{Result: apiconv.ValueToProto(v)}), nil
}
