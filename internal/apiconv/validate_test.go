package apiconv_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/storage"
)

// These tests check the protovalidate rules written in proto/squall/v1, as
// the server's validating interceptor will run them: they are part of the
// API's contract, and CEL in a .proto file is code like any other.

var validator = func() protovalidate.Validator {
	v, err := protovalidate.New()
	if err != nil {
		panic(err)
	}
	return v
}()

// violations returns the violations of msg as "field: message" lines.
func violations(t *testing.T, msg proto.Message) []string {
	t.Helper()
	err := validator.Validate(msg)
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("validate: %v", err)
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, v.String())
	}
	return out
}

func expectValid(t *testing.T, name string, msg proto.Message) {
	t.Helper()
	if vs := violations(t, msg); len(vs) > 0 {
		t.Errorf("%s: unexpected violations:\n  %s", name, strings.Join(vs, "\n  "))
	}
}

func expectViolation(t *testing.T, name string, msg proto.Message, want string) {
	t.Helper()
	vs := violations(t, msg)
	for _, v := range vs {
		if strings.HasPrefix(v, want) {
			return
		}
	}
	t.Errorf("%s: want a violation starting %q, got:\n  %s", name, want, strings.Join(vs, "\n  "))
}

const nameMsg = "must be 1 to 128 ASCII letters, digits, '_', '-', '.' or '$', starting with a letter, '_' or '$'"

// TestNameRuleMatchesStorage checks the CEL name rule against
// storage.ValidateName, the rule names are stored by, on chosen and random
// names.
func TestNameRuleMatchesStorage(t *testing.T) {
	names := []string{
		"", "a", "A", "_", "$", "$dead-letter", "word-count.v2", "9lives", "-x", ".x", "a b", "naïve", "a/b", "a\x00",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "a" + strings.Repeat("9", 127),
	}
	r := rand.New(rand.NewPCG(13, 14))
	const alphabet = "aZ_$-.9 /é\x00"
	for range 500 {
		b := make([]rune, r.IntN(6))
		for i := range b {
			b[i] = []rune(alphabet)[r.IntN(len([]rune(alphabet)))]
		}
		names = append(names, string(b))
	}
	for _, name := range names {
		stored := storage.ValidateName("name", name) == nil
		vs := violations(t, &squallv1.DescribeRequest{Module: name})
		if api := len(vs) == 0; api != stored {
			t.Errorf("name %q: the API rule says valid=%v, storage says %v (%v)", name, api, stored, vs)
		}
		if len(vs) > 0 && vs[0] != "module: "+nameMsg {
			t.Errorf("name %q: violation %q", name, vs[0])
		}
	}
}

func TestTasksRule(t *testing.T) {
	for tasks := uint32(0); tasks <= 1<<17; tasks++ {
		if tasks > 70 && tasks&(tasks-1) != 0 && (tasks+1)&tasks != 0 {
			continue // powers of two, their neighbours and the small numbers are enough
		}
		h := &squallv1.DeployHeader{Tasks: tasks, Artifact: &squallv1.ArtifactHeader{SizeBytes: 1, Sha256: make([]byte, 32)}}
		want := tasks != 0 && tasks&(tasks-1) == 0 && tasks <= 65536
		if got := len(violations(t, h)) == 0; got != want {
			t.Errorf("tasks %d: valid=%v, want %v", tasks, got, want)
		}
	}
	expectViolation(t, "tasks 3", &squallv1.DeployHeader{Tasks: 3, Artifact: &squallv1.ArtifactHeader{SizeBytes: 1, Sha256: make([]byte, 32)}},
		"tasks: must be a power of two from 1 to 65536")
}

func TestDeployRules(t *testing.T) {
	artifact := &squallv1.ArtifactHeader{SizeBytes: 64 << 20, Sha256: make([]byte, 32)}
	header := func(h *squallv1.DeployHeader) *squallv1.DeployRequest {
		return &squallv1.DeployRequest{Message: &squallv1.DeployRequest_Header{Header: h}}
	}
	chunk := func(n int) *squallv1.DeployRequest {
		return &squallv1.DeployRequest{Message: &squallv1.DeployRequest_Chunk{Chunk: make([]byte, n)}}
	}
	expectValid(t, "header", header(&squallv1.DeployHeader{Module: "wordcount", Tasks: 8, Artifact: artifact}))
	expectValid(t, "header with the module's own name", header(&squallv1.DeployHeader{Tasks: 1, Artifact: artifact}))
	expectValid(t, "1 MiB chunk", chunk(1<<20))
	expectViolation(t, "empty message", &squallv1.DeployRequest{}, "message: exactly one field is required in oneof")
	expectViolation(t, "empty chunk", chunk(0), "chunk: must be at least 1 bytes")
	expectViolation(t, "chunk over 1 MiB", chunk(1<<20+1), "chunk: must be at most 1048576 bytes")
	expectViolation(t, "bad name", header(&squallv1.DeployHeader{Module: "word count", Tasks: 8, Artifact: artifact}), "header.module: must be empty (use the module's own name) or 1 to 128")
	expectViolation(t, "no artifact", header(&squallv1.DeployHeader{Tasks: 8}), "header.artifact: value is required")
	expectViolation(t, "short digest", header(&squallv1.DeployHeader{Tasks: 8, Artifact: &squallv1.ArtifactHeader{SizeBytes: 1, Sha256: make([]byte, 31)}}),
		"header.artifact.sha256: must be 32 bytes")
	expectViolation(t, "empty artifact", header(&squallv1.DeployHeader{Tasks: 8, Artifact: &squallv1.ArtifactHeader{Sha256: make([]byte, 32)}}),
		"header.artifact.size_bytes: must be greater than 0 and less than or equal to 1073741824")
	expectViolation(t, "artifact over 1 GiB", header(&squallv1.DeployHeader{Tasks: 8, Artifact: &squallv1.ArtifactHeader{SizeBytes: 1<<30 + 1, Sha256: make([]byte, 32)}}),
		"header.artifact.size_bytes: must be greater than 0 and less than or equal to 1073741824")
	expectViolation(t, "update without a name", &squallv1.UpdateRequest{Message: &squallv1.UpdateRequest_Header{Header: &squallv1.UpdateHeader{Artifact: artifact}}},
		"header.module: "+nameMsg)
}

func selectReq(p *squallv1.Path) *squallv1.SelectRequest {
	return &squallv1.SelectRequest{Module: "m", Pstate: "counts", Path: p}
}

func TestPathRules(t *testing.T) {
	key := &squallv1.KeyNav{Key: pStr("alice")}
	expectValid(t, "every navigator", selectReq(ppath(key, &squallv1.MustKeyNav{Key: pInt(1)}, &squallv1.MapValsNav{}, &squallv1.MapKeysNav{},
		&squallv1.AllNav{}, &squallv1.FirstNav{}, &squallv1.LastNav{}, &squallv1.NthNav{Index: -1},
		&squallv1.SortedRangeNav{From: pInt(1), Limit: 10}, &squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_EXISTS},
		&squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_LT, Value: pInt(3)}, &squallv1.NilToValNav{Value: pNull()},
		&squallv1.ViewNav{Fn: squallv1.ViewFn_VIEW_FN_COUNT})))
	expectValid(t, "empty path (a global PState's whole value)", selectReq(&squallv1.Path{}))
	expectViolation(t, "no path", selectReq(nil), "path: value is required")
	for _, term := range []any{
		&squallv1.SetTerminal{Value: pInt(1)}, &squallv1.RemoveTerminal{}, &squallv1.IncrTerminal{Amount: &squallv1.IncrTerminal_IntAmount{IntAmount: 1}},
		&squallv1.AppendTerminal{}, &squallv1.PrependTerminal{}, &squallv1.MergeTerminal{Map: pNull()},
	} {
		expectViolation(t, "terminal in a select", selectReq(ppath(key, term)), "path: a select path cannot contain terminals")
	}
	expectViolation(t, "step not set", selectReq(ppath(key, nil)), "path.navs[1].step: exactly one field is required in oneof")
	expectViolation(t, "key without key", selectReq(ppath(&squallv1.KeyNav{})), "path.navs[0].key.key: value is required")
	expectViolation(t, "value without kind deep inside", selectReq(ppath(&squallv1.KeyNav{Key: pList(pInt(1), &squallv1.Value{})})),
		"path.navs[0].key.key.list_value.items[1].kind: exactly one field is required in oneof")
	expectViolation(t, "map entry without key", selectReq(ppath(&squallv1.KeyNav{Key: &squallv1.Value{Kind: &squallv1.Value_MapValue{MapValue: &squallv1.MapValue{
		Entries: []*squallv1.MapEntry{{Value: pInt(1)}}}}}})), "path.navs[0].key.key.map_value.entries[0].key: value is required")
	expectViolation(t, "filter exists with value", selectReq(ppath(&squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_EXISTS, Value: pInt(1)})),
		"path.navs[0].filter: filter exists takes no value")
	expectViolation(t, "filter without value", selectReq(ppath(&squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_GT})),
		"path.navs[0].filter: filter eq, ne, lt, le, gt and ge need a value")
	expectViolation(t, "filter without op", selectReq(ppath(&squallv1.FilterNav{Value: pInt(1)})), "path.navs[0].filter.op: must not be in list [0]")
	expectViolation(t, "filter unknown op", selectReq(ppath(&squallv1.FilterNav{Op: 12, Value: pInt(1)})), "path.navs[0].filter.op: value must be one of the defined enum values")
	expectViolation(t, "view without fn", selectReq(ppath(&squallv1.ViewNav{})), "path.navs[0].view.fn: must not be in list [0]")
	expectViolation(t, "limit too large", selectReq(ppath(&squallv1.SortedRangeNav{Limit: 1 << 31})), "path.navs[0].sorted_range.limit: must be less than or equal to 2147483647")
	long := make([]any, 257)
	for i := range long {
		long[i] = &squallv1.AllNav{}
	}
	expectViolation(t, "path too long", selectReq(ppath(long...)), "path.navs: must contain no more than 256 item(s)")
	partition := uint32(65536)
	expectViolation(t, "partition out of range", &squallv1.SelectOneRequest{Module: "m", Pstate: "p", Path: &squallv1.Path{}, Partition: &partition},
		"partition: must be less than 65536")
	expectViolation(t, "bad pstate name", &squallv1.SelectOneRequest{Module: "m", Pstate: "", Path: &squallv1.Path{}}, "pstate: "+nameMsg)
}

func TestAppendRules(t *testing.T) {
	expectValid(t, "append", &squallv1.AppendRequest{Module: "wordcount", Depot: "sentences", Record: pStr("the cat")})
	expectValid(t, "append nil", &squallv1.AppendRequest{Module: "m", Depot: "d", Record: pNull(), AckLevel: squallv1.AckLevel_ACK_LEVEL_NONE})
	expectViolation(t, "no record", &squallv1.AppendRequest{Module: "m", Depot: "d"}, "record: value is required")
	expectViolation(t, "record without kind", &squallv1.AppendRequest{Module: "m", Depot: "d", Record: &squallv1.Value{}}, "record.kind: exactly one field is required in oneof")
	expectViolation(t, "unknown ack level", &squallv1.AppendRequest{Module: "m", Depot: "d", Record: pNull(), AckLevel: 9}, "ack_level: value must be one of the defined enum values")
	expectViolation(t, "bad depot name", &squallv1.AppendRequest{Module: "m", Depot: "a/b", Record: pNull()}, "depot: "+nameMsg)
	expectViolation(t, "empty batch", &squallv1.AppendBatchRequest{Module: "m", Depot: "d"}, "records: must contain at least 1 item(s)")
	big := &squallv1.AppendBatchRequest{Module: "m", Depot: "d", Records: make([]*squallv1.Value, 10001)}
	for i := range big.Records {
		big.Records[i] = pInt(int64(i))
	}
	expectViolation(t, "batch over 10000", big, "records: must contain no more than 10000 item(s)")
	big.Records = big.Records[:10000]
	expectValid(t, "batch of 10000", big)
	big.Records[17] = &squallv1.Value{}
	expectViolation(t, "bad record in a batch", big, "records[17].kind: exactly one field is required in oneof")
}

func TestWatchRules(t *testing.T) {
	sub := func(id string) *squallv1.WatchSubscription {
		return &squallv1.WatchSubscription{Id: id, Module: "m", Pstate: "p", Path: ppath(&squallv1.KeyNav{Key: pStr("k")})}
	}
	expectValid(t, "watch", &squallv1.WatchRequest{Subscriptions: []*squallv1.WatchSubscription{sub("a"), sub("b")}, HeartbeatInterval: durationpb.New(5e9)})
	expectValid(t, "empty watch", &squallv1.WatchRequest{})
	expectViolation(t, "duplicate ids", &squallv1.WatchRequest{Subscriptions: []*squallv1.WatchSubscription{sub("a"), sub("a")}},
		"subscriptions: subscription ids must be unique within a watch")
	expectViolation(t, "empty id", &squallv1.WatchRequest{Subscriptions: []*squallv1.WatchSubscription{sub("")}}, "subscriptions[0].id: must be at least 1 characters")
	expectViolation(t, "heartbeat too fast", &squallv1.WatchRequest{HeartbeatInterval: durationpb.New(1e6)}, "heartbeat_interval: must be greater than or equal to 1s")
	bad := sub("x")
	bad.Path = ppath(&squallv1.RemoveTerminal{})
	expectViolation(t, "terminal in a watch", &squallv1.ModifyWatchRequest{WatchId: "w", Add: []*squallv1.WatchSubscription{bad}}, "add[0].path: a select path cannot contain terminals")
	expectViolation(t, "no watch id", &squallv1.ModifyWatchRequest{Remove: []string{"a"}}, "watch_id: must be at least 1 characters")
	expectViolation(t, "empty removed id", &squallv1.ModifyWatchRequest{WatchId: "w", Remove: []string{""}}, "remove[0]: must be at least 1 characters")
}

func TestOtherRules(t *testing.T) {
	expectValid(t, "invoke", &squallv1.InvokeRequest{Module: "m", Query: "top-words", Args: []*squallv1.Value{pInt(10)}})
	expectViolation(t, "invoke without query", &squallv1.InvokeRequest{Module: "m"}, "query: "+nameMsg)
	expectViolation(t, "too many args", &squallv1.InvokeRequest{Module: "m", Query: "q", Args: slices.Repeat([]*squallv1.Value{pNull()}, 65)}, "args: must contain no more than 64 item(s)")
	expectValid(t, "list every partition", &squallv1.ListPartitionsRequest{})
	expectViolation(t, "page too large", &squallv1.ListPartitionsRequest{PageSize: 4097}, "page_size: must be less than or equal to 4096")
	expectViolation(t, "destroy without a name", &squallv1.DestroyRequest{}, "module: "+nameMsg)
	for _, msg := range []proto.Message{&squallv1.ListRequest{}, &squallv1.HealthRequest{}, &squallv1.StatusRequest{}} {
		expectValid(t, string(msg.ProtoReflect().Descriptor().Name()), msg)
	}
}
