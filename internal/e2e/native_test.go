package e2e

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/engine"
)

// The examples' stage logic written as native Go stages, run by the same
// engine without wasm: the baseline of the benchmarks. They mirror
// examples/wordcount/go and examples/social/go exactly (the same
// definitions, effects, queries, ack returns and failures);
// TestWordcountNativeMatchesWasm and TestSocialNativeMatchesWasm hold them
// to it.

func str(k string) abi.Value { return abi.String(k) }

// wordcountDef is the definition examples/wordcount/go declares.
func wordcountDef() *abi.ModuleDef {
	return &abi.ModuleDef{
		Name:    "wordcount",
		Depots:  []abi.DepotDef{{Name: "sentences", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(str("user"))}}},
		PStates: []abi.PStateDef{{Name: "$$wordCounts", Schema: mapOf(leaf(abi.SchemaString), leaf(abi.SchemaInt))}},
		Topologies: []abi.TopologyDef{{Name: "wordcount", Kind: abi.TopologyStream,
			Sources: []abi.SourceDef{{Depot: "sentences", Stage: "split"}},
			Stages:  []string{"split", "count"}}},
	}
}

func leaf(t abi.SchemaType) abi.Schema { return abi.Schema{Type: t} }

func mapOf(k, v abi.Schema) abi.Schema { return abi.Schema{Type: abi.SchemaMap, Key: &k, Val: &v} }

// words is the example's Words: maximal runs of letters and digits,
// lowercased.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// field reads a record field the way the SDK's Unpack does for a string
// or int field: absent is the zero value, another kind poisons the item.
func field(rec abi.Value, name string, kind abi.Kind) (abi.Value, error) {
	if rec.Kind() != abi.KindMap && !rec.IsNil() {
		return abi.Nil(), engine.Poison(fmt.Errorf("input: want a record, got %s", rec.Kind()))
	}
	v, _ := rec.Get(str(name))
	if !v.IsNil() && v.Kind() != kind {
		return abi.Nil(), engine.Poison(fmt.Errorf("input: at [%q]: want %s, got %s", name, kind, v.Kind()))
	}
	return v, nil
}

func fieldString(rec abi.Value, name string) (string, error) {
	v, err := field(rec, name, abi.KindString)
	s, _ := v.AsString()
	return s, err
}

func fieldInt(rec abi.Value, name string) (int64, error) {
	v, err := field(rec, name, abi.KindInt)
	i, _ := v.AsInt()
	return i, err
}

// wordcountNative is examples/wordcount/go as native stages.
func wordcountNative() *engine.NativeModule {
	return engine.NewNativeModule(wordcountDef()).
		Stage("wordcount", "split", func(c *engine.StageCtx, rec abi.Value) error {
			if _, err := fieldString(rec, "user"); err != nil {
				return err
			}
			text, err := fieldString(rec, "text")
			if err != nil {
				return err
			}
			ws := words(text)
			for _, w := range ws {
				if err := c.HopHash("count", abi.String(w), abi.String(w)); err != nil {
					return err
				}
			}
			return c.Emit(abi.Int(int64(len(ws))))
		}).
		Stage("wordcount", "count", func(c *engine.StageCtx, w abi.Value) error {
			if w.Kind() != abi.KindString && !w.IsNil() {
				return engine.Poison(fmt.Errorf("input: want a string, got %s", w.Kind()))
			}
			s, _ := w.AsString() // nil reads as ""
			return c.Transform("$$wordCounts", abi.P().Key(abi.String(s)).Incr(1))
		})
}

// socialFollowerPage is the example's FollowerPage.
const socialFollowerPage = 256

// socialDef is the definition examples/social/go declares.
func socialDef() *abi.ModuleDef {
	s, i := leaf(abi.SchemaString), leaf(abi.SchemaInt)
	set := abi.Schema{Type: abi.SchemaSet, Elem: &s, Subindexed: true}
	entry := abi.Schema{Type: abi.SchemaRecord, Fields: []abi.FieldDef{{Name: "author", Schema: s}, {Name: "id", Schema: i}, {Name: "text", Schema: s}}}
	list := abi.Schema{Type: abi.SchemaList, Elem: &entry, Subindexed: true}
	return &abi.ModuleDef{
		Name: "social",
		Depots: []abi.DepotDef{
			{Name: "follows", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(str("to"))}},
			{Name: "posts", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(str("author"))}},
		},
		PStates: []abi.PStateDef{
			{Name: "$$followers", Schema: mapOf(s, set)},
			{Name: "$$followerCounts", Schema: mapOf(s, i)},
			{Name: "$$postCounts", Schema: mapOf(s, i)},
			{Name: "$$timelines", Schema: mapOf(s, list)},
		},
		Topologies: []abi.TopologyDef{{Name: "social", Kind: abi.TopologyStream,
			Sources: []abi.SourceDef{{Depot: "follows", Stage: "follow"}, {Depot: "posts", Stage: "post"}},
			Stages:  []string{"follow", "post", "deliver"}}},
	}
}

// socialNative is examples/social/go as native stages.
func socialNative() *engine.NativeModule {
	return engine.NewNativeModule(socialDef()).
		Stage("social", "follow", func(c *engine.StageCtx, rec abi.Value) error {
			from, err := fieldString(rec, "from")
			if err != nil {
				return err
			}
			to, err := fieldString(rec, "to")
			if err != nil {
				return err
			}
			uv, err := field(rec, "unfollow", abi.KindBool)
			if err != nil {
				return err
			}
			unfollow, _ := uv.AsBool()
			if from == "" || to == "" {
				return engine.Poison(fmt.Errorf("a follow needs both users: from %q, to %q", from, to))
			}
			if from == to {
				return engine.Poison(fmt.Errorf("%q cannot follow themselves", from))
			}
			_, member, err := c.SelectOne("$$followers", abi.P().Key(str(to)).MustKey(str(from)))
			if err != nil {
				return err
			}
			switch {
			case !unfollow && !member:
				if err := c.Transform("$$followers", abi.P().Key(str(to)).Append(str(from))); err != nil {
					return err
				}
				if err := c.Transform("$$followerCounts", abi.P().Key(str(to)).Incr(1)); err != nil {
					return err
				}
			case unfollow && member:
				if err := c.Transform("$$followers", abi.P().Key(str(to)).Key(str(from)).Remove()); err != nil {
					return err
				}
				if err := c.Transform("$$followerCounts", abi.P().Key(str(to)).Incr(-1)); err != nil {
					return err
				}
			}
			n, _, err := c.SelectOne("$$followerCounts", abi.P().Key(str(to)))
			if err != nil {
				return err
			}
			i, _ := n.AsInt()
			return c.Emit(abi.Int(i))
		}).
		Stage("social", "post", func(c *engine.StageCtx, rec abi.Value) error {
			author, err := fieldString(rec, "author")
			if err != nil {
				return err
			}
			id, err := fieldInt(rec, "id")
			if err != nil {
				return err
			}
			text, err := fieldString(rec, "text")
			if err != nil {
				return err
			}
			if author == "" {
				return engine.Poison(fmt.Errorf("post %d has no author", id))
			}
			if err := c.Transform("$$postCounts", abi.P().Key(str(author)).Incr(1)); err != nil {
				return err
			}
			post := abi.Map(abi.MapEntry{Key: str("author"), Val: str(author)}, abi.MapEntry{Key: str("id"), Val: abi.Int(id)}, abi.MapEntry{Key: str("text"), Val: str(text)})
			page := abi.P().Key(str(author)).SortedRange(abi.Nil(), abi.Nil(), abi.RangeOpts{Limit: socialFollowerPage})
			delivered := 0
			for {
				fs, err := c.Select("$$followers", page.All())
				if err != nil {
					return err
				}
				for _, f := range fs {
					if f.Kind() != abi.KindString {
						return engine.Poison(fmt.Errorf("a follower is %s, not a string", f.Kind()))
					}
					d := abi.Map(abi.MapEntry{Key: str("follower"), Val: f}, abi.MapEntry{Key: str("post"), Val: post})
					if err := c.HopHash("deliver", f, d); err != nil {
						return err
					}
				}
				delivered += len(fs)
				if len(fs) < socialFollowerPage {
					break
				}
				page = abi.P().Key(str(author)).SortedRange(fs[len(fs)-1], abi.Nil(), abi.RangeOpts{ExcludeFrom: true, Limit: socialFollowerPage})
			}
			return c.Emit(abi.Int(int64(delivered)))
		}).
		Stage("social", "deliver", func(c *engine.StageCtx, d abi.Value) error {
			follower, err := fieldString(d, "follower")
			if err != nil {
				return err
			}
			entry, _ := d.Get(str("post")) // the post's record, appended as it is
			return c.Transform("$$timelines", abi.P().Key(str(follower)).Append(entry))
		})
}
