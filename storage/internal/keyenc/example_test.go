package keyenc_test

import (
	"bytes"
	"fmt"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage/internal/keyenc"
)

func Example() {
	// The key path ("followers", 42) of a PState, after a storage prefix.
	key, err := keyenc.AppendTuple([]byte("p/"), abi.String("followers"), abi.Int(42))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", key)

	vals, err := keyenc.DecodeTuple(key[len("p/"):])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(vals[0], vals[1])

	// Keys order like the values: -1 < 7 although canonical MessagePack
	// orders 7 (0x07) before -1 (0xff).
	a, _ := keyenc.Append(nil, abi.Int(-1))
	b, _ := keyenc.Append(nil, abi.Int(7))
	fmt.Println(bytes.Compare(a, b), abi.Compare(abi.Int(-1), abi.Int(7)))
	// Output:
	// 70 2f 30 66 6f 6c 6c 6f 77 65 72 73 00 15 2a
	// "followers" 42
	// -1 -1
}

func ExampleTupleEnd() {
	node, _ := keyenc.Append(nil, abi.String(""))
	child, _ := keyenc.AppendTuple(nil, abi.String(""), abi.Int(1))
	sibling, _ := keyenc.Append(nil, abi.String("\x00")) // starts with the bytes of node
	end := keyenc.TupleEnd(node)
	in := func(k []byte) bool { return bytes.Compare(k, node) >= 0 && bytes.Compare(k, end) < 0 }
	fmt.Println(in(child), in(sibling), bytes.HasPrefix(sibling, node))
	// Output: true false true
}

func ExampleError() {
	_, _, err := keyenc.Decode([]byte{0x30, 'a', 0xff, 0x00})
	if e, ok := err.(*keyenc.Error); ok {
		fmt.Println(e.Offset, e.Msg)
	}
	fmt.Println(err)
	// Output:
	// 0 string is not valid UTF-8
	// keyenc: at byte 0: string is not valid UTF-8
}
