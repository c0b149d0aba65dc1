package apiconv_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

func sampleDef(t *testing.T) *abi.ModuleDef {
	t.Helper()
	str := abi.Schema{Type: abi.SchemaString}
	i64 := abi.Schema{Type: abi.SchemaInt}
	def := &abi.ModuleDef{
		Name: "social",
		Depots: []abi.DepotDef{
			{Name: "follows", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(abi.String("from"))}},
			{Name: "sentences", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash}},
			{Name: "audit", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}},
			{Name: "internal", Partitioner: abi.DepotPartitioner{Kind: abi.DepotDisallow}},
		},
		PStates: []abi.PStateDef{
			{Name: "counts", Schema: abi.Schema{Type: abi.SchemaMap, Key: &str, Val: &i64}},
			{Name: "total", Schema: i64, Global: true},
			{Name: "users", Schema: abi.Schema{Type: abi.SchemaMap, Key: &str, Val: &abi.Schema{Type: abi.SchemaRecord, Fields: []abi.FieldDef{
				{Name: "followers", Schema: abi.Schema{Type: abi.SchemaSet, Elem: &str, Subindexed: true}},
				{Name: "name", Schema: str},
			}}}},
		},
		Topologies: []abi.TopologyDef{
			{Name: "wc", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "sentences", Stage: "split"}}, Stages: []string{"split", "count"}},
			{Name: "graph", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "follows", Stage: "follow"}, {Depot: "internal", Stage: "follow"}}, Stages: []string{"follow"}},
		},
	}
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	return def
}

func TestDescribeModule(t *testing.T) {
	def := sampleDef(t)
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	info := apiconv.ModuleInfo{
		Name: "social", State: squallv1.ModuleState_MODULE_STATE_RUNNING, Tasks: 8,
		ArtifactSize: 1 << 20, ArtifactSHA256: bytes.Repeat([]byte{0xab}, 32), ABIVersion: "1.0",
		DeployedAt: at, UpdatedAt: at.Add(time.Hour), Generation: 2,
	}
	d, err := apiconv.DescribeModule(def, info)
	if err != nil {
		t.Fatal(err)
	}
	if d.GetName() != "social" || d.GetTasks() != 8 || d.GetGeneration() != 2 || d.GetState() != squallv1.ModuleState_MODULE_STATE_RUNNING {
		t.Errorf("header fields: %v", d)
	}
	if d.GetArtifact().GetSizeBytes() != 1<<20 || len(d.GetArtifact().GetSha256()) != 32 || d.GetArtifact().GetAbiVersion() != "1.0" {
		t.Errorf("artifact: %v", d.GetArtifact())
	}
	if !d.GetDeployedAt().AsTime().Equal(at) || !d.GetUpdatedAt().AsTime().Equal(at.Add(time.Hour)) {
		t.Errorf("times: %v %v", d.GetDeployedAt(), d.GetUpdatedAt())
	}
	kinds := []squallv1.PartitionerKind{
		squallv1.PartitionerKind_PARTITIONER_KIND_HASH, squallv1.PartitionerKind_PARTITIONER_KIND_HASH,
		squallv1.PartitionerKind_PARTITIONER_KIND_RANDOM, squallv1.PartitionerKind_PARTITIONER_KIND_DISALLOW,
	}
	for i, dp := range d.GetDepots() {
		if dp.GetName() != def.Depots[i].Name || dp.GetPartitioner().GetKind() != kinds[i] {
			t.Errorf("depot %d: %v", i, dp)
		}
	}
	if d.GetDepots()[0].GetPartitioner().GetKey().GetNavs()[0].GetKey().GetKey().GetStringValue() != "from" {
		t.Errorf("depot key path: %v", d.GetDepots()[0].GetPartitioner())
	}
	if d.GetDepots()[1].GetPartitioner().GetKey() != nil {
		t.Errorf("a depot hashing the whole record has a key path: %v", d.GetDepots()[1].GetPartitioner())
	}
	if len(d.GetPstates()) != 3 || !d.GetPstates()[1].GetGlobal() || d.GetPstates()[1].GetSchema().GetLeaf() != squallv1.LeafType_LEAF_TYPE_INT {
		t.Errorf("pstates: %v", d.GetPstates())
	}
	if got := d.GetPstates()[2].GetSchema().GetMap().GetValue().GetRecord().GetFields()[0].GetSchema().GetSet(); !got.GetSubindexed() {
		t.Errorf("subindexed set: %v", got)
	}
	g := d.GetTopologies()[1]
	if g.GetName() != "graph" || g.GetKind() != squallv1.TopologyKind_TOPOLOGY_KIND_STREAM || len(g.GetSources()) != 2 ||
		g.GetSources()[1].GetDepot() != "internal" || strings.Join(g.GetStages(), ",") != "follow" {
		t.Errorf("topology: %v", g)
	}

	back, err := apiconv.ModuleDefFromDescription(d)
	if err != nil {
		t.Fatal(err)
	}
	if !abi.Equal(back.Value(), def.Value()) {
		t.Errorf("ModuleDefFromDescription =\n %v\nwant\n %v", back.Value(), def.Value())
	}

	sum := apiconv.SummarizeModule(info)
	if sum.GetName() != "social" || sum.GetTasks() != 8 || sum.GetGeneration() != 2 || sum.GetUpdatedAt() == nil {
		t.Errorf("summary: %v", sum)
	}
	if s := apiconv.SummarizeModule(apiconv.ModuleInfo{Name: "x"}); s.GetDeployedAt() != nil || s.GetUpdatedAt() != nil {
		t.Errorf("zero times are sent: %v", s)
	}
}

func TestDescribeModule_Errors(t *testing.T) {
	if _, err := apiconv.DescribeModule(nil, apiconv.ModuleInfo{}); err == nil {
		t.Error("nil definition: no error")
	}
	def := sampleDef(t)
	def.Depots[2].Partitioner.Kind = "sticky"
	if _, err := apiconv.DescribeModule(def, apiconv.ModuleInfo{}); err == nil || !strings.Contains(err.Error(), `depots[2].partitioner.kind: unknown depot partitioner "sticky"`) {
		t.Errorf("unknown partitioner: %v", err)
	}
	def = sampleDef(t)
	def.Topologies[0].Kind = "batch"
	if _, err := apiconv.DescribeModule(def, apiconv.ModuleInfo{}); err == nil || !strings.Contains(err.Error(), `topologies[0].kind: unknown topology kind "batch"`) {
		t.Errorf("unknown topology kind: %v", err)
	}
	def = sampleDef(t)
	def.PStates[0].Schema = abi.Schema{Type: abi.SchemaMap}
	if _, err := apiconv.DescribeModule(def, apiconv.ModuleInfo{}); err == nil || !strings.Contains(err.Error(), "pstates[0].schema") {
		t.Errorf("bad schema: %v", err)
	}
}

func TestModuleDefFromDescription_Errors(t *testing.T) {
	d, err := apiconv.DescribeModule(sampleDef(t), apiconv.ModuleInfo{Name: "social"})
	if err != nil {
		t.Fatal(err)
	}
	d.Pstates[1].Schema = &squallv1.Schema{}
	if _, err := apiconv.ModuleDefFromDescription(d); err == nil || err.Error() != "module.pstates[1].schema: no type set; set leaf, map, set, list or record" {
		t.Errorf("bad schema: %v", err)
	}
	d, _ = apiconv.DescribeModule(sampleDef(t), apiconv.ModuleInfo{Name: "social"})
	d.Topologies[0].Sources[0].Depot = "nope"
	if _, err := apiconv.ModuleDefFromDescription(d); err == nil || !strings.Contains(err.Error(), `unknown depot "nope"`) {
		t.Errorf("bad source: %v", err)
	}
	d, _ = apiconv.DescribeModule(sampleDef(t), apiconv.ModuleInfo{Name: "social"})
	d.Depots[0].Partitioner.Kind = 0
	if _, err := apiconv.ModuleDefFromDescription(d); err == nil || !strings.HasPrefix(err.Error(), "module.depots[0].partitioner.kind: unknown partitioner kind") {
		t.Errorf("bad partitioner: %v", err)
	}
	d, _ = apiconv.DescribeModule(sampleDef(t), apiconv.ModuleInfo{Name: "social"})
	d.Depots[0].Partitioner.Key.Navs[0] = &squallv1.Nav{Step: &squallv1.Nav_Remove{Remove: &squallv1.RemoveTerminal{}}}
	if _, err := apiconv.ModuleDefFromDescription(d); err == nil || !strings.HasPrefix(err.Error(), "module.depots[0].partitioner.key.navs[0]: remove(): a select path cannot") {
		t.Errorf("bad key path: %v", err)
	}
	d, _ = apiconv.DescribeModule(sampleDef(t), apiconv.ModuleInfo{Name: "social"})
	d.Topologies[0].Kind = 0
	if _, err := apiconv.ModuleDefFromDescription(d); err == nil || !strings.HasPrefix(err.Error(), "module.topologies[0].kind: unknown topology kind") {
		t.Errorf("bad topology kind: %v", err)
	}
}

func TestAckLevel(t *testing.T) {
	for _, tc := range []struct {
		api squallv1.AckLevel
		abi abi.AckLevel
	}{
		{squallv1.AckLevel_ACK_LEVEL_NONE, abi.AckNone},
		{squallv1.AckLevel_ACK_LEVEL_APPEND_ACK, abi.AckAppendAck},
		{squallv1.AckLevel_ACK_LEVEL_ACK, abi.AckAck},
	} {
		got, err := apiconv.AckLevelFromProto(tc.api)
		if err != nil || got != tc.abi {
			t.Errorf("AckLevelFromProto(%v) = %v, %v; want %v", tc.api, got, err, tc.abi)
		}
		if back := apiconv.AckLevelToProto(tc.abi); back != tc.api {
			t.Errorf("AckLevelToProto(%v) = %v, want %v", tc.abi, back, tc.api)
		}
	}
	if got, err := apiconv.AckLevelFromProto(squallv1.AckLevel_ACK_LEVEL_UNSPECIFIED); err != nil || got != abi.AckAck {
		t.Errorf("unspecified = %v, %v; want ACK", got, err)
	}
	if _, err := apiconv.AckLevelFromProto(9); err == nil || err.Error() != "ack_level: unknown ack level 9; use ACK_LEVEL_NONE, ACK_LEVEL_APPEND_ACK or ACK_LEVEL_ACK" {
		t.Errorf("unknown level: %v", err)
	}
	if got := apiconv.AckLevelToProto(7); got != squallv1.AckLevel_ACK_LEVEL_UNSPECIFIED {
		t.Errorf("AckLevelToProto(7) = %v", got)
	}
}

// The ABI 1.1 fields survive Describe and back: tick depots, owners,
// microbatch options, start positions and queries.
func TestDescribeModule_ABI11(t *testing.T) {
	str, i64 := abi.Schema{Type: abi.SchemaString}, abi.Schema{Type: abi.SchemaInt}
	def := &abi.ModuleDef{
		Name: "bank",
		Depots: []abi.DepotDef{
			{Name: "transfers", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(abi.String("from"))}},
			{Name: "minute", Partitioner: abi.DepotPartitioner{Kind: abi.DepotTick, TickMillis: 60000}},
		},
		PStates: []abi.PStateDef{{Name: "balances", Owner: "bank", Schema: abi.Schema{Type: abi.SchemaMap, Key: &str, Val: &i64}}},
		Topologies: []abi.TopologyDef{
			{Name: "bank", Kind: abi.TopologyMicrobatch, MaxRecords: 500, IntervalMillis: 100, Stages: []string{"debit", "tick"},
				Sources: []abi.SourceDef{{Depot: "transfers", Stage: "debit", StartFrom: abi.StartEnd},
					{Depot: "minute", Stage: "tick", StartFrom: abi.StartOffset, StartOffset: 7}}},
		},
		Queries: []abi.QueryDef{{Name: "account", Args: []string{"id", "limit"}, Stages: []string{"start", "read"}}, {Name: "total", Stages: []string{"sum"}}},
	}
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := apiconv.DescribeModule(def, apiconv.ModuleInfo{Name: "bank", Tasks: 4})
	if err != nil {
		t.Fatal(err)
	}
	if p := d.GetDepots()[1].GetPartitioner(); p.GetKind() != squallv1.PartitionerKind_PARTITIONER_KIND_TICK || p.GetTickMillis() != 60000 {
		t.Errorf("tick depot %v", p)
	}
	if tp := d.GetTopologies()[0]; tp.GetKind() != squallv1.TopologyKind_TOPOLOGY_KIND_MICROBATCH || tp.GetMaxRecords() != 500 ||
		tp.GetIntervalMs() != 100 || tp.GetSources()[1].GetStartFrom() != abi.StartOffset || tp.GetSources()[1].GetStartOffset() != 7 {
		t.Errorf("microbatch topology %v", tp)
	}
	if q := d.GetQueries(); len(q) != 2 || strings.Join(q[0].GetArgs(), ",") != "id,limit" || q[1].GetStages()[0] != "sum" {
		t.Errorf("queries %v", q)
	}
	back, err := apiconv.ModuleDefFromDescription(d)
	if err != nil {
		t.Fatal(err)
	}
	if !abi.Equal(back.Value(), def.Value()) {
		t.Errorf("ModuleDefFromDescription =\n %v\nwant\n %v", back.Value(), def.Value())
	}
}
