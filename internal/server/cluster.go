package server

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
)

// nodeID names the single node until there is a cluster.
const nodeID = "local"

type clusterService struct{ s *Server }

func (c *clusterService) Health(ctx context.Context, req *connect.Request[squallv1.HealthRequest]) (*connect.Response[squallv1.HealthResponse], error) {
	st := squallv1.HealthStatus_HEALTH_STATUS_SERVING
	if c.s.draining.Load() {
		st = squallv1.HealthStatus_HEALTH_STATUS_DRAINING
	}
	res := &squallv1.HealthResponse{Status: st}
	for _, d := range c.s.cfg.Registry.list() {
		chk := &squallv1.HealthCheck{Name: "module " + d.info.Name, Ok: d.def != nil}
		if d.def == nil {
			chk.Message = d.fail
		}
		res.Checks = append(res.Checks, chk)
	}
	return connect.NewResponse(res), nil
}

func (c *clusterService) node() *squallv1.NodeInfo {
	st := squallv1.NodeState_NODE_STATE_ALIVE
	if c.s.draining.Load() {
		st = squallv1.NodeState_NODE_STATE_LEAVING
	}
	var parts uint32
	for _, d := range c.s.cfg.Registry.list() {
		parts += d.info.Tasks
	}
	return &squallv1.NodeInfo{Id: nodeID, Address: c.s.cfg.Address, Version: c.s.cfg.Version, State: st,
		StartedAt: timestamppb.New(c.s.started), Partitions: parts}
}

func (c *clusterService) Status(ctx context.Context, req *connect.Request[squallv1.StatusRequest]) (*connect.Response[squallv1.StatusResponse], error) {
	node := c.node()
	res := &squallv1.StatusResponse{Node: node, Members: []*squallv1.NodeInfo{node}}
	for _, d := range c.s.cfg.Registry.list() {
		ms := &squallv1.ModuleStatus{Name: d.info.Name, State: d.info.State, Tasks: d.info.Tasks}
		if d.def != nil {
			tops, err := c.s.cfg.Engine.Topologies(d.info.Name)
			if err != nil {
				return nil, err
			}
			for _, t := range tops {
				ts := &squallv1.TopologyStatus{Name: t.Name, Kind: topologyKind(t.Kind), Lag: t.Lag}
				if mb := t.Microbatch; mb != nil {
					ts.Paused, ts.Error, ts.Microbatches = mb.Paused, mb.Error, mb.Next
				}
				ms.Topologies = append(ms.Topologies, ts)
			}
		}
		res.Modules = append(res.Modules, ms)
	}
	return connect.NewResponse(res), nil
}

func topologyKind(k string) squallv1.TopologyKind {
	if k == abi.TopologyStream {
		return squallv1.TopologyKind_TOPOLOGY_KIND_STREAM
	}
	return squallv1.TopologyKind_TOPOLOGY_KIND_MICROBATCH
}

func (c *clusterService) ListPartitions(ctx context.Context, req *connect.Request[squallv1.ListPartitionsRequest]) (*connect.Response[squallv1.ListPartitionsResponse], error) {
	mods := c.s.cfg.Registry.list()
	if name := req.Msg.GetModule(); name != "" {
		d, err := c.s.cfg.Registry.get(name)
		if err != nil {
			return nil, err
		}
		mods = []*deployed{d}
	}
	if req.Msg.GetPageToken() != "" {
		return nil, badRequest("page_token: this node returns every partition in one page; send no page_token")
	}
	res := &squallv1.ListPartitionsResponse{}
	for _, d := range mods {
		for p := range d.info.Tasks {
			res.Partitions = append(res.Partitions, &squallv1.PartitionStatus{Module: d.info.Name, Partition: p,
				Replicas: []*squallv1.PartitionReplica{{NodeId: nodeID, Role: squallv1.ReplicaRole_REPLICA_ROLE_LEADER}}})
		}
	}
	return connect.NewResponse(res), nil
}
