package apiconv

import (
	"errors"
	"math"
	"strconv"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
)

// PathFromProto converts an API path. field names p in its request
// ("path"); errors are [*FieldError]s naming the step and argument:
// "path.navs[2].sorted_range.limit". A nil path is the empty path.
//
// Every step's arguments are checked; mode then says what the path is for:
// [abi.ModeSelect] refuses terminals, [abi.ModeTransform] requires exactly
// one terminal, last, and refuses views (see [abi.Path.Validate]). Mode 0
// checks the steps only.
func PathFromProto(field string, p *squallv1.Path, mode abi.Mode) (abi.Path, error) {
	navs := p.GetNavs()
	out := make(abi.Path, 0, len(navs))
	for i, n := range navs {
		nav, err := navFrom(n)
		if err != nil {
			return nil, err.in(index("navs", i)).field(field)
		}
		out = append(out, nav)
	}
	if mode == abi.ModeSelect || mode == abi.ModeTransform {
		if err := out.Validate(mode); err != nil {
			var pe *abi.PathError
			if errors.As(err, &pe) && pe.Step >= 0 {
				return nil, &FieldError{Field: field + index("navs", pe.Step), Msg: pe.Nav + ": " + pe.Msg}
			} else if errors.As(err, &pe) {
				return nil, &FieldError{Field: field, Msg: pe.Msg}
			}
			return nil, &FieldError{Field: field, Msg: err.Error()}
		}
	}
	return out, nil
}

// navFrom converts one step and checks its arguments.
func navFrom(n *squallv1.Nav) (abi.Nav, *convError) {
	if n == nil {
		return abi.Nav{}, fail("missing step")
	}
	// arg converts a required value argument of the step named seg.
	arg := func(seg, name string, v *squallv1.Value) (abi.Value, *convError) {
		x, err := valueFrom(v, 0)
		if err != nil {
			return abi.Value{}, err.in("." + name).in("." + seg)
		}
		return x, nil
	}
	switch s := n.GetStep().(type) {
	case *squallv1.Nav_Key:
		k, err := arg("key", "key", s.Key.GetKey())
		return abi.Nav{Op: abi.OpKey, Arg: k}, err
	case *squallv1.Nav_MustKey:
		k, err := arg("must_key", "key", s.MustKey.GetKey())
		return abi.Nav{Op: abi.OpMustKey, Arg: k}, err
	case *squallv1.Nav_MapVals:
		return abi.Nav{Op: abi.OpMapVals}, nil
	case *squallv1.Nav_MapKeys:
		return abi.Nav{Op: abi.OpMapKeys}, nil
	case *squallv1.Nav_All:
		return abi.Nav{Op: abi.OpAll}, nil
	case *squallv1.Nav_First:
		return abi.Nav{Op: abi.OpFirst}, nil
	case *squallv1.Nav_Last:
		return abi.Nav{Op: abi.OpLast}, nil
	case *squallv1.Nav_Nth:
		return abi.Nav{Op: abi.OpNth, Index: s.Nth.GetIndex()}, nil
	case *squallv1.Nav_SortedRange:
		r := s.SortedRange
		nav := abi.Nav{Op: abi.OpSortedRange}
		var err *convError
		// Absent bounds are open, like nil ones.
		if r.GetFrom() != nil {
			if nav.From, err = arg("sorted_range", "from", r.GetFrom()); err != nil {
				return abi.Nav{}, err
			}
		}
		if r.GetTo() != nil {
			if nav.To, err = arg("sorted_range", "to", r.GetTo()); err != nil {
				return abi.Nav{}, err
			}
		}
		if r.GetLimit() > math.MaxInt32 {
			return abi.Nav{}, fail("limit " + strconv.FormatUint(uint64(r.GetLimit()), 10) + " is too large; use 0 (no limit) to 2147483647").in(".limit").in(".sorted_range")
		}
		nav.Range = abi.RangeOpts{ExcludeFrom: r.GetExcludeFrom(), IncludeTo: r.GetIncludeTo(), Limit: int(r.GetLimit()), Reverse: r.GetReverse()}
		return nav, nil
	case *squallv1.Nav_Filter:
		f := s.Filter
		op := f.GetOp()
		if op < squallv1.FilterOp_FILTER_OP_EQ || op > squallv1.FilterOp_FILTER_OP_EXISTS {
			return abi.Nav{}, fail("unknown comparison " + op.String() + "; use FILTER_OP_EQ, _NE, _LT, _LE, _GT, _GE or _EXISTS").in(".op").in(".filter")
		}
		nav := abi.Nav{Op: abi.OpFilter, Filter: abi.FilterOp(op)} // the API numbers are the ABI's
		if op == squallv1.FilterOp_FILTER_OP_EXISTS {
			if f.GetValue() != nil {
				return abi.Nav{}, fail("filter exists takes no value; remove it, or use another comparison").in(".value").in(".filter")
			}
			return nav, nil
		}
		if f.GetValue() == nil {
			return abi.Nav{}, fail("filter " + nav.Filter.String() + " needs a value to compare with").in(".value").in(".filter")
		}
		var err *convError
		nav.Arg, err = arg("filter", "value", f.GetValue())
		return nav, err
	case *squallv1.Nav_NilToVal:
		v, err := arg("nil_to_val", "value", s.NilToVal.GetValue())
		return abi.Nav{Op: abi.OpNilToVal, Arg: v}, err
	case *squallv1.Nav_View:
		fn := s.View.GetFn()
		if fn != squallv1.ViewFn_VIEW_FN_SIZE && fn != squallv1.ViewFn_VIEW_FN_COUNT {
			return abi.Nav{}, fail("unknown view function " + fn.String() + "; use VIEW_FN_SIZE or VIEW_FN_COUNT").in(".fn").in(".view")
		}
		return abi.Nav{Op: abi.OpView, View: abi.ViewFn(fn)}, nil // the API numbers are the ABI's
	case *squallv1.Nav_Set:
		v, err := arg("set", "value", s.Set.GetValue())
		return abi.Nav{Op: abi.OpSet, Arg: v}, err
	case *squallv1.Nav_Remove:
		return abi.Nav{Op: abi.OpRemove}, nil
	case *squallv1.Nav_Incr:
		switch a := s.Incr.GetAmount().(type) {
		case *squallv1.IncrTerminal_IntAmount:
			return abi.Nav{Op: abi.OpIncr, Arg: abi.Int(a.IntAmount)}, nil
		case *squallv1.IncrTerminal_FloatAmount:
			return abi.Nav{Op: abi.OpIncr, Arg: abi.Float(a.FloatAmount)}, nil
		}
		return abi.Nav{}, fail("no amount set; set int_amount or float_amount").in(".incr")
	case *squallv1.Nav_Append:
		items, err := itemsFrom(s.Append.GetItems())
		if err != nil {
			return abi.Nav{}, err.in(".append")
		}
		return abi.Nav{Op: abi.OpAppend, Items: items}, nil
	case *squallv1.Nav_Prepend:
		items, err := itemsFrom(s.Prepend.GetItems())
		if err != nil {
			return abi.Nav{}, err.in(".prepend")
		}
		return abi.Nav{Op: abi.OpPrepend, Items: items}, nil
	case *squallv1.Nav_Merge:
		m, err := arg("merge", "map", s.Merge.GetMap())
		if err != nil {
			return abi.Nav{}, err
		}
		if k := m.Kind(); k != abi.KindMap && k != abi.KindNil {
			return abi.Nav{}, fail("merge needs a map_value (or null_value), not a " + k.String()).in(".map").in(".merge")
		}
		return abi.Nav{Op: abi.OpMerge, Arg: m}, nil
	}
	return abi.Nav{}, fail("no step set; set a navigator (key, must_key, map_vals, map_keys, all, first, last, nth, sorted_range, filter, nil_to_val, view) or a terminal (set, incr, append, prepend, remove, merge)")
}

func itemsFrom(vs []*squallv1.Value) ([]abi.Value, *convError) {
	out := make([]abi.Value, len(vs))
	for i, v := range vs {
		x, err := valueFrom(v, 0)
		if err != nil {
			return nil, err.in(index("items", i))
		}
		out[i] = x
	}
	return out, nil
}

// PathToProto converts a path to its API form. It fails only for a step
// that [abi.Path.Validate] refuses (an unknown opcode, comparison or view
// function, an incr amount that is not a number, a merge of a non-map).
func PathToProto(p abi.Path) (*squallv1.Path, error) {
	if err := p.Validate(0); err != nil {
		return nil, err
	}
	navs := make([]*squallv1.Nav, len(p))
	for i, n := range p {
		if n.Op == abi.OpSortedRange && n.Range.Limit > math.MaxInt32 {
			return nil, &abi.PathError{Step: i, Nav: n.String(), Msg: "limit must be at most 2147483647"}
		}
		navs[i] = navToProto(n)
	}
	return &squallv1.Path{Navs: navs}, nil
}

// navToProto converts one step that passed abi.Path.Validate.
func navToProto(n abi.Nav) *squallv1.Nav {
	out := &squallv1.Nav{}
	switch n.Op {
	case abi.OpKey:
		out.Step = &squallv1.Nav_Key{Key: &squallv1.KeyNav{Key: ValueToProto(n.Arg)}}
	case abi.OpMustKey:
		out.Step = &squallv1.Nav_MustKey{MustKey: &squallv1.MustKeyNav{Key: ValueToProto(n.Arg)}}
	case abi.OpMapVals:
		out.Step = &squallv1.Nav_MapVals{MapVals: &squallv1.MapValsNav{}}
	case abi.OpMapKeys:
		out.Step = &squallv1.Nav_MapKeys{MapKeys: &squallv1.MapKeysNav{}}
	case abi.OpAll:
		out.Step = &squallv1.Nav_All{All: &squallv1.AllNav{}}
	case abi.OpFirst:
		out.Step = &squallv1.Nav_First{First: &squallv1.FirstNav{}}
	case abi.OpLast:
		out.Step = &squallv1.Nav_Last{Last: &squallv1.LastNav{}}
	case abi.OpNth:
		out.Step = &squallv1.Nav_Nth{Nth: &squallv1.NthNav{Index: n.Index}}
	case abi.OpSortedRange:
		r := &squallv1.SortedRangeNav{
			ExcludeFrom: n.Range.ExcludeFrom,
			IncludeTo:   n.Range.IncludeTo,
			Limit:       uint32(n.Range.Limit), // PathToProto checked 0 <= Limit <= MaxInt32
			Reverse:     n.Range.Reverse,
		}
		if !n.From.IsNil() {
			r.From = ValueToProto(n.From)
		}
		if !n.To.IsNil() {
			r.To = ValueToProto(n.To)
		}
		out.Step = &squallv1.Nav_SortedRange{SortedRange: r}
	case abi.OpFilter:
		f := &squallv1.FilterNav{Op: squallv1.FilterOp(n.Filter)}
		if n.Filter != abi.FilterExists {
			f.Value = ValueToProto(n.Arg)
		}
		out.Step = &squallv1.Nav_Filter{Filter: f}
	case abi.OpNilToVal:
		out.Step = &squallv1.Nav_NilToVal{NilToVal: &squallv1.NilToValNav{Value: ValueToProto(n.Arg)}}
	case abi.OpView:
		out.Step = &squallv1.Nav_View{View: &squallv1.ViewNav{Fn: squallv1.ViewFn(n.View)}}
	case abi.OpSet:
		out.Step = &squallv1.Nav_Set{Set: &squallv1.SetTerminal{Value: ValueToProto(n.Arg)}}
	case abi.OpRemove:
		out.Step = &squallv1.Nav_Remove{Remove: &squallv1.RemoveTerminal{}}
	case abi.OpIncr:
		t := &squallv1.IncrTerminal{}
		if f, ok := n.Arg.AsFloat(); ok {
			t.Amount = &squallv1.IncrTerminal_FloatAmount{FloatAmount: f}
		} else {
			i, _ := n.Arg.AsInt()
			t.Amount = &squallv1.IncrTerminal_IntAmount{IntAmount: i}
		}
		out.Step = &squallv1.Nav_Incr{Incr: t}
	case abi.OpAppend:
		out.Step = &squallv1.Nav_Append{Append: &squallv1.AppendTerminal{Items: ValuesToProto(n.Items)}}
	case abi.OpPrepend:
		out.Step = &squallv1.Nav_Prepend{Prepend: &squallv1.PrependTerminal{Items: ValuesToProto(n.Items)}}
	case abi.OpMerge:
		out.Step = &squallv1.Nav_Merge{Merge: &squallv1.MergeTerminal{Map: ValueToProto(n.Arg)}}
	}
	return out
}
