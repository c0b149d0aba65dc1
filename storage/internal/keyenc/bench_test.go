package keyenc

import (
	"testing"

	"github.com/squall-run/squall/abi"
)

var benchKeys = []struct {
	name string
	vs   []abi.Value
}{
	{"string", []abi.Value{abi.String("alice@example.com")}},
	{"int", []abi.Value{abi.Int(1234567)}},
	{"string+int", []abi.Value{abi.String("followers"), abi.Int(1234567)}},
}

func BenchmarkAppend(b *testing.B) {
	for _, bk := range benchKeys {
		b.Run(bk.name, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = AppendTuple(buf[:0], bk.vs...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bk := range benchKeys {
		b.Run(bk.name, func(b *testing.B) {
			enc, err := AppendTuple(nil, bk.vs...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeTuple(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
