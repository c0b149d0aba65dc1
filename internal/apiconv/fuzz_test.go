package apiconv_test

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

// FuzzValueFromProto feeds arbitrary protobuf bytes to the conversion a
// server runs on every request value: it must never panic, and what it
// accepts must be a value the ABI can encode and that converts back to
// itself.
func FuzzValueFromProto(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(9, 10))}
	for range 32 {
		b, err := proto.Marshal(apiconv.ValueToProto(g.value(3)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, pv := range []*squallv1.Value{
		{},
		pMap(pStr("a"), pInt(1), pStr("a"), pInt(2)),
		pSet(pInt(1), pInt(1)),
		nested(abi.MaxDepth + 1),
		pList(nil),
	} {
		b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(pv)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pv squallv1.Value
		if err := proto.Unmarshal(data, &pv); err != nil {
			return
		}
		v, err := apiconv.ValueFromProto("value", &pv)
		if err != nil {
			if _, ok := err.(*apiconv.FieldError); !ok {
				t.Fatalf("error is a %T: %v", err, err)
			}
			return
		}
		if _, err := abi.Encode(v); err != nil {
			t.Fatalf("accepted a value the ABI cannot encode: %v", err)
		}
		back, err := apiconv.ValueFromProto("value", apiconv.ValueToProto(v))
		if err != nil {
			t.Fatalf("canonical form refused: %v", err)
		}
		if !abi.Equal(back, v) {
			t.Fatalf("round trip changed %v to %v", v, back)
		}
	})
}

// FuzzPathFromProto does the same for paths, in every mode.
func FuzzPathFromProto(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(11, 12))}
	for range 32 {
		pp, err := apiconv.PathToProto(g.path())
		if err != nil {
			f.Fatal(err)
		}
		b, err := proto.Marshal(pp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(g.r.IntN(3)))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		var pp squallv1.Path
		if err := proto.Unmarshal(data, &pp); err != nil {
			return
		}
		m := abi.Mode(mode % 3)
		p, err := apiconv.PathFromProto("path", &pp, m)
		if err != nil {
			if _, ok := err.(*apiconv.FieldError); !ok {
				t.Fatalf("error is a %T: %v", err, err)
			}
			return
		}
		if err := p.Validate(m); err != nil {
			t.Fatalf("accepted a path the ABI refuses: %v", err)
		}
		if _, err := abi.Encode(p.Value()); err != nil {
			t.Fatalf("accepted a path the ABI cannot encode: %v", err)
		}
		pp2, err := apiconv.PathToProto(p)
		if err != nil {
			t.Fatalf("PathToProto refused an accepted path: %v", err)
		}
		back, err := apiconv.PathFromProto("path", pp2, m)
		if err != nil || !abi.Equal(back.Value(), p.Value()) {
			t.Fatalf("round trip changed %s to %s (%v)", p, back, err)
		}
	})
}
