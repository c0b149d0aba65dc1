package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage/internal/keyenc"
)

// TestPStateDataDriven runs the scripts in testdata/pstate. Commands:
//
//	declare [name=N]        input: schema text; declares the PState, empties the model
//	transform [partition=P] input: one path per line; prints the changes
//	select [committed]      input: one path per line; prints the results
//	select-one              input: one path per line
//	commit                  commits the batch and starts a new one
//	dump [partition=P]      prints every storage key of the PState partition
//	model                   prints the in-memory model of partition 0
//
// Every transform and select also runs on an in-memory model of the
// partition (TransformValueSchema / SelectValueSchema on the whole partition
// as one value); any difference in results or in the state afterwards is
// printed as a MISMATCH line, so the storage engine and the in-memory engine
// are held to the same semantics.
func TestPStateDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/pstate", func(t *testing.T, path string) {
		h := newPStateHarness(t)
		defer h.close()
		datadriven.RunTest(t, path, h.run)
	})
}

type pstateHarness struct {
	t     *testing.T
	db    *DB
	ps    *PState
	b     *Batch
	model map[uint32]abi.Value
}

func newPStateHarness(t *testing.T) *pstateHarness {
	db, err := Open("pstate-test", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	return &pstateHarness{t: t, db: db, b: db.NewBatch(), model: map[uint32]abi.Value{}}
}

func (h *pstateHarness) close() {
	h.b.Close()
	if err := h.db.Close(); err != nil {
		h.t.Error(err)
	}
}

func lines(input string) []string {
	var out []string
	for _, l := range strings.Split(input, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func (h *pstateHarness) run(t *testing.T, d *datadriven.TestData) string {
	var part uint32
	if d.HasArg("partition") {
		var p int
		d.ScanArgs(t, "partition", &p)
		part = uint32(p)
	}
	var out strings.Builder
	switch d.Cmd {
	case "declare":
		name := "ps"
		if d.HasArg("name") {
			d.ScanArgs(t, "name", &name)
		}
		s, err := parseSchemaText(d.Input)
		if err != nil {
			d.Fatalf(t, "schema: %v", err)
		}
		ps, err := NewPState("m", name, s)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		h.ps = ps
		h.model = map[uint32]abi.Value{}
		return "ok\n"
	case "transform":
		for _, l := range lines(d.Input) {
			p, err := parsePathText(l)
			if err != nil {
				d.Fatalf(t, "path %q: %v", l, err)
			}
			if len(lines(d.Input)) > 1 {
				fmt.Fprintf(&out, "%s\n", p)
			}
			changes, err := h.b.Transform(h.ps, part, p)
			if err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
				h.checkState(&out, part)
				continue
			}
			if len(changes) == 0 {
				out.WriteString("no changes\n")
			}
			for _, c := range changes {
				fmt.Fprintf(&out, "%s\n", c)
			}
			before := h.model[part]
			nm, _, merr := TransformValueSchema(before, h.ps.Schema(), p)
			if merr != nil {
				fmt.Fprintf(&out, "MISMATCH: the in-memory engine failed: %v\n", merr)
				h.model[part] = h.materialize(t, h.b.pb, part)
				continue
			}
			h.model[part] = nm
			h.checkState(&out, part)
			// A reactive client applying the changes to what it had must
			// get what is stored now.
			if !slices.ContainsFunc(changes, func(c Change) bool { return c.Kind == ChangeResync }) {
				applied, aerr := applyChanges(before, changes)
				if h.ps.rootKind == nodeRootMap && applied.Kind() == abi.KindMap && applied.Len() == 0 {
					applied = abi.Nil()
				}
				if got := h.materialize(t, h.b.pb, part); aerr != nil || !abi.Equal(applied, got) {
					fmt.Fprintf(&out, "MISMATCH: applying the changes gave %s (%v), stored %s\n", applied, aerr, got)
				}
			}
		}
		return out.String()
	case "select", "select-one":
		for _, l := range lines(d.Input) {
			p, err := parsePathText(l)
			if err != nil {
				d.Fatalf(t, "path %q: %v", l, err)
			}
			if len(lines(d.Input)) > 1 {
				fmt.Fprintf(&out, "%s\n", p)
			}
			if d.Cmd == "select-one" {
				v, err := h.b.SelectOne(h.ps, part, p)
				if err != nil {
					fmt.Fprintf(&out, "error: %v\n", err)
				} else {
					fmt.Fprintf(&out, "%s\n", v)
				}
				continue
			}
			var vs []abi.Value
			if d.HasArg("committed") {
				vs, err = h.db.Select(h.ps, part, p)
			} else {
				vs, err = h.b.Select(h.ps, part, p)
			}
			if err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
				continue
			}
			fmt.Fprintf(&out, "%s\n", abi.List(vs...))
			if d.HasArg("committed") {
				continue
			}
			mvs, merr := SelectValueSchema(h.model[part], h.ps.Schema(), p)
			switch {
			case merr != nil:
				fmt.Fprintf(&out, "MISMATCH: the in-memory engine failed: %v\n", merr)
			case !abi.Equal(abi.List(mvs...), abi.List(vs...)):
				fmt.Fprintf(&out, "MISMATCH: the in-memory engine selected %s\n", abi.List(mvs...))
			}
		}
		return out.String()
	case "commit":
		if _, err := h.b.Commit(context.Background()); err != nil {
			return "error: " + err.Error() + "\n"
		}
		h.b = h.db.NewBatch()
		return "ok\n"
	case "dump":
		return h.dump(t, part)
	case "model":
		return h.model[part].String() + "\n"
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return ""
}

// checkState compares the partition as stored with the model.
func (h *pstateHarness) checkState(out *strings.Builder, part uint32) {
	got := h.materialize(h.t, h.b.pb, part)
	if m := h.model[part]; h.ps.rootKind == nodeRootMap && m.Kind() == abi.KindMap && m.Len() == 0 {
		h.model[part] = abi.Nil() // an empty top-level map is no keys at all
	}
	if !abi.Equal(got, h.model[part]) {
		fmt.Fprintf(out, "MISMATCH: stored %s, in-memory model %s\n", got, h.model[part])
		h.model[part] = got
	}
}

// materialize reads a whole PState partition into one value, following the
// schema (sizes and list heads from the metadata are checked against the
// elements found).
func (h *pstateHarness) materialize(t *testing.T, r pebble.Reader, part uint32) abi.Value {
	e := newEngine(h.ps, part, nil, r, nil)
	v, err := materializeLoc(e, e.rootLoc())
	if err != nil {
		t.Fatalf("materialize: %v", err)
	}
	return v
}

func materializeLoc(e *engine, l *loc) (abi.Value, error) {
	if l.kind == nodeBlob {
		v, _, err := e.loadBlob(l)
		return v, err
	}
	m, err := e.metaOf(l)
	if err != nil {
		return abi.Nil(), err
	}
	if !m.exists {
		return abi.Nil(), nil
	}
	var entries []abi.MapEntry
	var items []abi.Value
	n := int64(0)
	err = e.each(l, abi.OpAll, func(k kid) error {
		n++
		c, err := e.kidLoc(l, k)
		if err != nil {
			return err
		}
		if l.kind == nodeSet {
			items = append(items, k.k)
			return nil
		}
		v, err := materializeLoc(e, c)
		if err != nil {
			return err
		}
		if l.kind == nodeList {
			if want := m.head + int64(len(items)); !abi.Equal(k.k, abi.Int(want)) {
				return fmt.Errorf("list %s: item key %s, want %d", locString(l.path), k.k, want)
			}
			items = append(items, v)
			return nil
		}
		entries = append(entries, abi.MapEntry{Key: k.k, Val: v})
		return nil
	})
	if err != nil {
		return abi.Nil(), err
	}
	if (l.kind == nodeMap || l.kind == nodeSet || l.kind == nodeList) && n != m.size {
		return abi.Nil(), fmt.Errorf("%s: metadata says size %d, found %d elements", locString(l.path), m.size, n)
	}
	switch l.kind {
	case nodeSet:
		return abi.Set(items...), nil
	case nodeList:
		return abi.List(items...), nil
	}
	if l.parent == nil && len(entries) == 0 {
		return abi.Nil(), nil
	}
	return abi.Map(entries...), nil
}

// dump prints every key of a PState partition: the key path below the
// PState prefix (metadata keys end in ".meta") and the value.
func (h *pstateHarness) dump(t *testing.T, part uint32) string {
	prefix := objectPrefix(nil, h.ps.module, part, kindPState, h.ps.name)
	it, err := h.b.pb.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keyenc.TupleEnd(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out strings.Builder
	for valid := it.First(); valid; valid = it.Next() {
		rest := it.Key()[len(prefix):]
		var parts []string
		meta := false
		for len(rest) > 0 {
			if rest[0] == 0 {
				meta = true
				break
			}
			v, n, err := keyenc.Decode(rest)
			if err != nil {
				t.Fatalf("dump: key %x: %v", it.Key(), err)
			}
			parts = append(parts, v.String())
			rest = rest[n:]
		}
		key := "$"
		if len(parts) > 0 {
			key += "[" + strings.Join(parts, "][") + "]"
		}
		val := it.Value()
		switch {
		case meta:
			fmt.Fprintf(&out, "%s.meta %s\n", key, describeMeta(val))
		case len(val) == 0:
			fmt.Fprintf(&out, "%s\n", key)
		default:
			v, err := abi.Decode(val)
			if err != nil {
				t.Fatalf("dump: value of %s: %v", key, err)
			}
			fmt.Fprintf(&out, "%s = %s\n", key, v)
		}
	}
	if out.Len() == 0 {
		return "empty\n"
	}
	return out.String()
}

func describeMeta(v []byte) string {
	if len(v) == 0 {
		return "marker"
	}
	a, n := binary.Varint(v)
	if n == len(v) {
		sz, _ := binary.Uvarint(v)
		return fmt.Sprintf("size=%d", sz)
	}
	sz, _ := binary.Uvarint(v[n:])
	return fmt.Sprintf("head=%d size=%d", a, sz)
}
