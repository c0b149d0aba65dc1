package apiconv

import (
	"errors"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
)

// ModuleInfo is what the server knows of a deployed module besides its
// definition.
type ModuleInfo struct {
	// Name is the name the module is deployed as.
	Name  string
	State squallv1.ModuleState
	// Tasks is the module's number of partitions.
	Tasks uint32
	// ArtifactSize, ArtifactSHA256 and ABIVersion describe the current
	// artifact.
	ArtifactSize   uint64
	ArtifactSHA256 []byte
	ABIVersion     string
	// DeployedAt is the first deploy; UpdatedAt the last deploy or update.
	// Zero times are left out.
	DeployedAt, UpdatedAt time.Time
	// Generation counts deploys and updates: 1 after the first deploy.
	Generation uint64
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (info *ModuleInfo) artifact() *squallv1.ArtifactInfo {
	return &squallv1.ArtifactInfo{SizeBytes: info.ArtifactSize, Sha256: info.ArtifactSHA256, AbiVersion: info.ABIVersion}
}

// SummarizeModule returns the module-list line of a module.
func SummarizeModule(info ModuleInfo) *squallv1.ModuleSummary {
	return &squallv1.ModuleSummary{
		Name:       info.Name,
		State:      info.State,
		Tasks:      info.Tasks,
		Artifact:   info.artifact(),
		DeployedAt: timestamp(info.DeployedAt),
		UpdatedAt:  timestamp(info.UpdatedAt),
		Generation: info.Generation,
	}
}

var partitionerKinds = map[string]squallv1.PartitionerKind{
	abi.DepotHash:     squallv1.PartitionerKind_PARTITIONER_KIND_HASH,
	abi.DepotRandom:   squallv1.PartitionerKind_PARTITIONER_KIND_RANDOM,
	abi.DepotDisallow: squallv1.PartitionerKind_PARTITIONER_KIND_DISALLOW,
	abi.DepotTick:     squallv1.PartitionerKind_PARTITIONER_KIND_TICK,
}

var topologyKinds = map[string]squallv1.TopologyKind{
	abi.TopologyStream:     squallv1.TopologyKind_TOPOLOGY_KIND_STREAM,
	abi.TopologyMicrobatch: squallv1.TopologyKind_TOPOLOGY_KIND_MICROBATCH,
}

// DescribeModule returns the Describe form of a deployed module: what its
// definition declares (depots with their partitioners, PStates with their
// schemas, topologies with their sources and stages) and what info says
// of its deployment. It fails only for a definition that
// [abi.ModuleDef.Validate] refuses.
func DescribeModule(def *abi.ModuleDef, info ModuleInfo) (*squallv1.ModuleDescription, error) {
	if def == nil {
		return nil, errors.New("apiconv: DescribeModule: no module definition")
	}
	d := &squallv1.ModuleDescription{
		Name:       info.Name,
		State:      info.State,
		Tasks:      info.Tasks,
		Artifact:   info.artifact(),
		DeployedAt: timestamp(info.DeployedAt),
		UpdatedAt:  timestamp(info.UpdatedAt),
		Generation: info.Generation,
		Depots:     make([]*squallv1.DepotDescription, len(def.Depots)),
		Pstates:    make([]*squallv1.PStateDescription, len(def.PStates)),
		Topologies: make([]*squallv1.TopologyDescription, len(def.Topologies)),
	}
	for i, dp := range def.Depots {
		kind, ok := partitionerKinds[dp.Partitioner.Kind]
		if !ok {
			return nil, defError("depots", i, "partitioner.kind", "unknown depot partitioner "+strconv.Quote(dp.Partitioner.Kind))
		}
		p := &squallv1.DepotPartitioner{Kind: kind, TickMillis: uint32(dp.Partitioner.TickMillis)}
		if len(dp.Partitioner.Key) > 0 {
			key, err := PathToProto(dp.Partitioner.Key)
			if err != nil {
				return nil, defError("depots", i, "partitioner.key", err.Error())
			}
			p.Key = key
		}
		d.Depots[i] = &squallv1.DepotDescription{Name: dp.Name, Partitioner: p}
	}
	for i, ps := range def.PStates {
		s, err := SchemaToProto(ps.Schema)
		if err != nil {
			return nil, defError("pstates", i, "schema", err.Error())
		}
		d.Pstates[i] = &squallv1.PStateDescription{Name: ps.Name, Schema: s, Global: ps.Global, Owner: ps.Owner}
	}
	for i, t := range def.Topologies {
		kind, ok := topologyKinds[t.Kind]
		if !ok {
			return nil, defError("topologies", i, "kind", "unknown topology kind "+strconv.Quote(t.Kind))
		}
		srcs := make([]*squallv1.TopologySource, len(t.Sources))
		for j, s := range t.Sources {
			srcs[j] = &squallv1.TopologySource{Depot: s.Depot, Stage: s.Stage, StartFrom: s.StartFrom, StartOffset: uint64(s.StartOffset)}
		}
		d.Topologies[i] = &squallv1.TopologyDescription{
			Name:       t.Name,
			Kind:       kind,
			Sources:    srcs,
			Stages:     append([]string(nil), t.Stages...),
			MaxRecords: uint32(t.MaxRecords),
			IntervalMs: uint32(t.IntervalMillis),
		}
	}
	for _, q := range def.Queries {
		d.Queries = append(d.Queries, &squallv1.QueryDescription{Name: q.Name, Args: append([]string(nil), q.Args...),
			Stages: append([]string(nil), q.Stages...)})
	}
	return d, nil
}

func defError(section string, i int, field, msg string) error {
	return &abi.DefError{Problems: []abi.DefProblem{{Where: section + "[" + strconv.Itoa(i) + "]." + field, Msg: msg}}}
}

// ModuleDefFromDescription reads the module definition back from a
// description, for clients that work with [abi.ModuleDef] (the CLI, tests).
// The definition's name is the deployed name. The definition is
// validated; errors are [*FieldError]s located below "module".
func ModuleDefFromDescription(d *squallv1.ModuleDescription) (*abi.ModuleDef, error) {
	def := &abi.ModuleDef{Name: d.GetName()}
	for i, dp := range d.GetDepots() {
		at := "module" + index("depots", i)
		dd := abi.DepotDef{Name: dp.GetName()}
		found := false
		for k, v := range partitionerKinds {
			if v == dp.GetPartitioner().GetKind() {
				dd.Partitioner.Kind, found = k, true
			}
		}
		if !found {
			return nil, &FieldError{Field: at + ".partitioner.kind", Msg: "unknown partitioner kind " + dp.GetPartitioner().GetKind().String()}
		}
		key, err := PathFromProto(at+".partitioner.key", dp.GetPartitioner().GetKey(), abi.ModeSelect)
		if err != nil {
			return nil, err
		}
		if len(key) > 0 {
			dd.Partitioner.Key = key
		}
		dd.Partitioner.TickMillis = int64(dp.GetPartitioner().GetTickMillis())
		def.Depots = append(def.Depots, dd)
	}
	for i, ps := range d.GetPstates() {
		at := "module" + index("pstates", i)
		s, err := SchemaFromProto(at+".schema", ps.GetSchema())
		if err != nil {
			return nil, err
		}
		def.PStates = append(def.PStates, abi.PStateDef{Name: ps.GetName(), Schema: s, Global: ps.GetGlobal(), Owner: ps.GetOwner()})
	}
	for i, t := range d.GetTopologies() {
		at := "module" + index("topologies", i)
		td := abi.TopologyDef{Name: t.GetName(), Stages: append([]string(nil), t.GetStages()...),
			MaxRecords: int64(t.GetMaxRecords()), IntervalMillis: int64(t.GetIntervalMs())}
		for k, v := range topologyKinds {
			if v == t.GetKind() {
				td.Kind = k
			}
		}
		if td.Kind == "" {
			return nil, &FieldError{Field: at + ".kind", Msg: "unknown topology kind " + t.GetKind().String()}
		}
		for _, s := range t.GetSources() {
			td.Sources = append(td.Sources, abi.SourceDef{Depot: s.GetDepot(), Stage: s.GetStage(), StartFrom: s.GetStartFrom(),
				StartOffset: int64(s.GetStartOffset())})
		}
		def.Topologies = append(def.Topologies, td)
	}
	for _, q := range d.GetQueries() {
		def.Queries = append(def.Queries, abi.QueryDef{Name: q.GetName(), Args: append([]string(nil), q.GetArgs()...),
			Stages: append([]string(nil), q.GetStages()...)})
	}
	if err := def.Validate(); err != nil {
		return nil, &FieldError{Field: "module", Msg: err.Error()}
	}
	return def, nil
}

// AckLevelFromProto converts an ack level; ACK_LEVEL_UNSPECIFIED is
// [abi.AckAck], the API's default.
func AckLevelFromProto(l squallv1.AckLevel) (abi.AckLevel, error) {
	switch l {
	case squallv1.AckLevel_ACK_LEVEL_UNSPECIFIED, squallv1.AckLevel_ACK_LEVEL_ACK:
		return abi.AckAck, nil
	case squallv1.AckLevel_ACK_LEVEL_APPEND_ACK:
		return abi.AckAppendAck, nil
	case squallv1.AckLevel_ACK_LEVEL_NONE:
		return abi.AckNone, nil
	}
	return 0, &FieldError{Field: "ack_level", Msg: "unknown ack level " + strconv.Itoa(int(l)) + "; use ACK_LEVEL_NONE, ACK_LEVEL_APPEND_ACK or ACK_LEVEL_ACK"}
}

// AckLevelToProto converts an ack level; it returns ACK_LEVEL_UNSPECIFIED
// for a level that does not exist.
func AckLevelToProto(l abi.AckLevel) squallv1.AckLevel {
	switch l {
	case abi.AckNone:
		return squallv1.AckLevel_ACK_LEVEL_NONE
	case abi.AckAppendAck:
		return squallv1.AckLevel_ACK_LEVEL_APPEND_ACK
	case abi.AckAck:
		return squallv1.AckLevel_ACK_LEVEL_ACK
	}
	return squallv1.AckLevel_ACK_LEVEL_UNSPECIFIED
}
