package apiconv_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

func nav(step any) *squallv1.Nav {
	n := &squallv1.Nav{}
	switch s := step.(type) {
	case *squallv1.KeyNav:
		n.Step = &squallv1.Nav_Key{Key: s}
	case *squallv1.MustKeyNav:
		n.Step = &squallv1.Nav_MustKey{MustKey: s}
	case *squallv1.MapValsNav:
		n.Step = &squallv1.Nav_MapVals{MapVals: s}
	case *squallv1.MapKeysNav:
		n.Step = &squallv1.Nav_MapKeys{MapKeys: s}
	case *squallv1.AllNav:
		n.Step = &squallv1.Nav_All{All: s}
	case *squallv1.FirstNav:
		n.Step = &squallv1.Nav_First{First: s}
	case *squallv1.LastNav:
		n.Step = &squallv1.Nav_Last{Last: s}
	case *squallv1.NthNav:
		n.Step = &squallv1.Nav_Nth{Nth: s}
	case *squallv1.SortedRangeNav:
		n.Step = &squallv1.Nav_SortedRange{SortedRange: s}
	case *squallv1.FilterNav:
		n.Step = &squallv1.Nav_Filter{Filter: s}
	case *squallv1.NilToValNav:
		n.Step = &squallv1.Nav_NilToVal{NilToVal: s}
	case *squallv1.ViewNav:
		n.Step = &squallv1.Nav_View{View: s}
	case *squallv1.SetTerminal:
		n.Step = &squallv1.Nav_Set{Set: s}
	case *squallv1.RemoveTerminal:
		n.Step = &squallv1.Nav_Remove{Remove: s}
	case *squallv1.IncrTerminal:
		n.Step = &squallv1.Nav_Incr{Incr: s}
	case *squallv1.AppendTerminal:
		n.Step = &squallv1.Nav_Append{Append: s}
	case *squallv1.PrependTerminal:
		n.Step = &squallv1.Nav_Prepend{Prepend: s}
	case *squallv1.MergeTerminal:
		n.Step = &squallv1.Nav_Merge{Merge: s}
	case nil:
	}
	return n
}

func ppath(steps ...any) *squallv1.Path {
	p := &squallv1.Path{}
	for _, s := range steps {
		p.Navs = append(p.Navs, nav(s))
	}
	return p
}

func TestPath(t *testing.T) {
	mapAB := abi.Map(abi.MapEntry{Key: abi.String("a"), Val: abi.Int(1)})
	for _, tc := range []struct {
		name  string
		abi   abi.Path
		proto *squallv1.Path
		mode  abi.Mode
	}{
		{"empty", abi.P(), &squallv1.Path{Navs: []*squallv1.Nav{}}, abi.ModeSelect},
		{"key", abi.P().Key(abi.String("alice")), ppath(&squallv1.KeyNav{Key: pStr("alice")}), abi.ModeSelect},
		{"must key", abi.P().MustKey(abi.Int(3)), ppath(&squallv1.MustKeyNav{Key: pInt(3)}), abi.ModeSelect},
		{"no-argument navigators", abi.P().MapVals().MapKeys().All().First().Last(),
			ppath(&squallv1.MapValsNav{}, &squallv1.MapKeysNav{}, &squallv1.AllNav{}, &squallv1.FirstNav{}, &squallv1.LastNav{}), abi.ModeSelect},
		{"nth from the end", abi.P().Nth(-1), ppath(&squallv1.NthNav{Index: -1}), abi.ModeSelect},
		{"sorted range, defaults", abi.P().SortedRange(abi.Int(10), abi.Int(20), abi.RangeOpts{}),
			ppath(&squallv1.SortedRangeNav{From: pInt(10), To: pInt(20)}), abi.ModeSelect},
		{"sorted range, open bounds and every option", abi.P().SortedRange(abi.Nil(), abi.Nil(), abi.RangeOpts{ExcludeFrom: true, IncludeTo: true, Limit: 100, Reverse: true}),
			ppath(&squallv1.SortedRangeNav{ExcludeFrom: true, IncludeTo: true, Limit: 100, Reverse: true}), abi.ModeSelect},
		{"filter", abi.P().MapVals().Filter(abi.FilterGe, abi.String("b")),
			ppath(&squallv1.MapValsNav{}, &squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_GE, Value: pStr("b")}), abi.ModeSelect},
		{"filter exists", abi.P().Filter(abi.FilterExists, abi.Nil()),
			ppath(&squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_EXISTS}), abi.ModeSelect},
		{"nil to val", abi.P().NilToVal(abi.Int(0)), ppath(&squallv1.NilToValNav{Value: pInt(0)}), abi.ModeSelect},
		{"view size", abi.P().View(abi.ViewSize), ppath(&squallv1.ViewNav{Fn: squallv1.ViewFn_VIEW_FN_SIZE}), abi.ModeSelect},
		{"view count", abi.P().View(abi.ViewCount), ppath(&squallv1.ViewNav{Fn: squallv1.ViewFn_VIEW_FN_COUNT}), abi.ModeSelect},
		{"set", abi.P().Key(abi.String("a")).Set(abi.Nil()), ppath(&squallv1.KeyNav{Key: pStr("a")}, &squallv1.SetTerminal{Value: pNull()}), abi.ModeTransform},
		{"remove", abi.P().Key(abi.String("a")).Remove(), ppath(&squallv1.KeyNav{Key: pStr("a")}, &squallv1.RemoveTerminal{}), abi.ModeTransform},
		{"incr int", abi.P().Incr(-2), ppath(&squallv1.IncrTerminal{Amount: &squallv1.IncrTerminal_IntAmount{IntAmount: -2}}), abi.ModeTransform},
		{"incr float", abi.P().IncrFloat(0.5), ppath(&squallv1.IncrTerminal{Amount: &squallv1.IncrTerminal_FloatAmount{FloatAmount: 0.5}}), abi.ModeTransform},
		{"append", abi.P().Append(abi.Int(1), abi.Int(2)), ppath(&squallv1.AppendTerminal{Items: []*squallv1.Value{pInt(1), pInt(2)}}), abi.ModeTransform},
		{"append nothing", abi.P().Append(), ppath(&squallv1.AppendTerminal{Items: []*squallv1.Value{}}), abi.ModeTransform},
		{"prepend", abi.P().Prepend(abi.String("x")), ppath(&squallv1.PrependTerminal{Items: []*squallv1.Value{pStr("x")}}), abi.ModeTransform},
		{"merge", abi.P().Merge(mapAB), ppath(&squallv1.MergeTerminal{Map: pMap(pStr("a"), pInt(1))}), abi.ModeTransform},
		{"merge nil", abi.P().Merge(abi.Nil()), ppath(&squallv1.MergeTerminal{Map: pNull()}), abi.ModeTransform},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apiconv.PathToProto(tc.abi)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tc.proto) {
				t.Errorf("PathToProto(%s) =\n %v\nwant\n %v", tc.abi, got, tc.proto)
			}
			back, err := apiconv.PathFromProto("path", tc.proto, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if !abi.Equal(back.Value(), tc.abi.Value()) {
				t.Errorf("PathFromProto = %s, want %s", back, tc.abi)
			}
		})
	}
	if p, err := apiconv.PathFromProto("path", nil, abi.ModeSelect); err != nil || len(p) != 0 {
		t.Errorf("nil path = %v, %v; want the empty path", p, err)
	}
}

func TestPathFromProto_Errors(t *testing.T) {
	key := &squallv1.KeyNav{Key: pStr("k")}
	for _, tc := range []struct {
		name string
		in   *squallv1.Path
		mode abi.Mode
		want string
	}{
		{"missing step", &squallv1.Path{Navs: []*squallv1.Nav{nil}}, 0, "path.navs[0]: missing step"},
		{"no step set", ppath(key, nil), 0, "path.navs[1]: no step set; set a navigator (key, must_key, "},
		{"key without key", ppath(&squallv1.KeyNav{}), 0, "path.navs[0].key.key: missing; set a value (null_value for nil)"},
		{"key nav unset", &squallv1.Path{Navs: []*squallv1.Nav{{Step: &squallv1.Nav_Key{}}}}, 0, "path.navs[0].key.key: missing"},
		{"bad range bound", ppath(key, key, &squallv1.SortedRangeNav{From: pList(&squallv1.Value{})}), 0,
			"path.navs[2].sorted_range.from.list_value.items[0]: no kind set"},
		{"bad range end", ppath(&squallv1.SortedRangeNav{To: &squallv1.Value{}}), 0, "path.navs[0].sorted_range.to: no kind set"},
		{"range limit too large", ppath(&squallv1.SortedRangeNav{Limit: 1 << 31}), 0,
			"path.navs[0].sorted_range.limit: limit 2147483648 is too large; use 0 (no limit) to 2147483647"},
		{"filter without op", ppath(&squallv1.FilterNav{Value: pInt(1)}), 0,
			"path.navs[0].filter.op: unknown comparison FILTER_OP_UNSPECIFIED; use FILTER_OP_EQ, _NE, _LT, _LE, _GT, _GE or _EXISTS"},
		{"filter unknown op", ppath(&squallv1.FilterNav{Op: 99, Value: pInt(1)}), 0, "path.navs[0].filter.op: unknown comparison 99"},
		{"filter exists with value", ppath(&squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_EXISTS, Value: pInt(1)}), 0,
			"path.navs[0].filter.value: filter exists takes no value; remove it, or use another comparison"},
		{"filter without value", ppath(&squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_LT}), 0,
			"path.navs[0].filter.value: filter lt needs a value to compare with"},
		{"filter bad value", ppath(&squallv1.FilterNav{Op: squallv1.FilterOp_FILTER_OP_EQ, Value: pStr("\xc0")}), 0,
			"path.navs[0].filter.value.string_value: not valid UTF-8"},
		{"nil to val without value", ppath(&squallv1.NilToValNav{}), 0, "path.navs[0].nil_to_val.value: missing"},
		{"view without fn", ppath(&squallv1.ViewNav{}), 0, "path.navs[0].view.fn: unknown view function VIEW_FN_UNSPECIFIED; use VIEW_FN_SIZE or VIEW_FN_COUNT"},
		{"set without value", ppath(&squallv1.SetTerminal{}), 0, "path.navs[0].set.value: missing"},
		{"incr without amount", ppath(&squallv1.IncrTerminal{}), 0, "path.navs[0].incr: no amount set; set int_amount or float_amount"},
		{"append bad item", ppath(&squallv1.AppendTerminal{Items: []*squallv1.Value{pInt(1), nil}}), 0, "path.navs[0].append.items[1]: missing"},
		{"prepend bad item", ppath(&squallv1.PrependTerminal{Items: []*squallv1.Value{{}}}), 0, "path.navs[0].prepend.items[0]: no kind set"},
		{"merge a list", ppath(&squallv1.MergeTerminal{Map: pList()}), 0, "path.navs[0].merge.map: merge needs a map_value (or null_value), not a list"},
		{"merge without map", ppath(&squallv1.MergeTerminal{}), 0, "path.navs[0].merge.map: missing"},
		{"terminal in a select", ppath(key, &squallv1.SetTerminal{Value: pInt(1)}), abi.ModeSelect,
			`path.navs[1]: set(1): a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms`},
		{"terminal not last", ppath(&squallv1.RemoveTerminal{}, key), abi.ModeTransform,
			`path.navs[0]: remove(): a terminal must be the last step of a path; 1 step(s) follow it`},
		{"view in a transform", ppath(&squallv1.ViewNav{Fn: squallv1.ViewFn_VIEW_FN_SIZE}, &squallv1.RemoveTerminal{}), abi.ModeTransform,
			"path.navs[0]: view(size): view is read-only and cannot appear in a transform"},
		{"transform without terminal", ppath(key), abi.ModeTransform,
			"path: a transform path must end with a terminal (set, remove, incr, append, prepend or merge)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apiconv.PathFromProto("path", tc.in, tc.mode)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if _, ok := err.(*apiconv.FieldError); !ok {
				t.Errorf("error is a %T, want *apiconv.FieldError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n %s\nwant prefix\n %s", err, tc.want)
			}
		})
	}
}

func TestPathToProto_Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   abi.Path
		want string
	}{
		{"unknown opcode", abi.Path{{Op: 99}}, "abi: path step 0 (op(99)()): unknown opcode 99"},
		{"unknown filter", abi.Path{{Op: abi.OpFilter, Filter: 42}}, "unknown filter comparison"},
		{"incr of a string", abi.Path{{Op: abi.OpIncr, Arg: abi.String("x")}}, "incr needs an int or float amount, not string"},
		{"limit too large", abi.Path{{Op: abi.OpSortedRange, Range: abi.RangeOpts{Limit: 1 << 40}}}, "limit must be at most 2147483647"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apiconv.PathToProto(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
