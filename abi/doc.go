// Package abi is the contract between the Squall host and guest modules: the
// values that cross the boundary and their one canonical byte encoding.
//
// It imports only the standard library, so that a Go guest SDK can share it.
//
// # Values
//
// A [Value] is nil, a bool, a 64-bit signed int, a 64-bit float, a UTF-8
// string, a byte string, a list, a map (keys of any kind) or a set. Values
// are immutable; maps and sets keep their entries in canonical order (below).
// [Equal] compares values structurally; [Value.String] renders them.
//
// # Canonical encoding (normative)
//
// Every value has exactly one encoding, a subset of MessagePack
// (https://github.com/msgpack/msgpack/blob/master/spec.md). Partitioning
// hashes these bytes and storage keys are built from them, so every SDK (Go,
// Rust, TypeScript, Python) must produce them byte for byte; the golden
// vectors in testdata/ (see testdata/README.md) are the test. Multi-byte
// integers and lengths are big-endian. "Shortest" means the first form in
// the list that can hold the value.
//
//   - nil: 0xc0.
//   - bool: false 0xc2, true 0xc3.
//   - int, 0 <= i: positive fixint (0x00-0x7f) for i <= 127, then uint8
//     (0xcc), uint16 (0xcd), uint32 (0xce), uint64 (0xcf), shortest.
//     Non-negative ints never use the signed forms.
//   - int, i < 0: negative fixint (0xe0-0xff) for i >= -32, then int8
//     (0xd0), int16 (0xd1), int32 (0xd2), int64 (0xd3), shortest.
//   - float: always float64 (0xcb + 8 bytes), never float32. Every NaN is
//     written as 7ff8000000000000 (the quiet NaN with no payload, sign bit
//     clear); -0.0 is kept as 8000000000000000; infinities as themselves.
//   - string: valid UTF-8 (no surrogates, no overlong forms), written as is
//     with no normalisation, in fixstr (0xa0|n, n <= 31), str8 (0xd9), str16
//     (0xda) or str32 (0xdb), shortest.
//   - bytes: bin8 (0xc4, also for empty bytes), bin16 (0xc5) or bin32 (0xc6),
//     shortest. Bytes and strings are distinct: "a" != 0x"61".
//   - list: fixarray (0x90|n, n <= 15), array16 (0xdc) or array32 (0xdd),
//     shortest, then the items in order.
//   - map: fixmap (0x80|n, n <= 15), map16 (0xde) or map32 (0xdf), shortest,
//     then the entries, each key then value, sorted by the canonical encoding
//     of the key compared bytewise as unsigned bytes (a proper prefix would
//     sort first, though no encoding is a prefix of another). Keys are
//     unique. Keys may be of any kind, including floats and containers.
//   - set: MessagePack extension type 1 ([SetExtType]). The payload is the
//     canonical encoding of the list of the elements sorted by their
//     canonical encoding (as map keys are) and unique: an array header
//     (fixarray / array16 / array32, shortest) followed by the elements.
//     The extension header is the shortest that fits the payload length L:
//     fixext1 (0xd4) if L = 1, fixext2 (0xd5) if L = 2, fixext4 (0xd6) if
//     L = 4, fixext8 (0xd7) if L = 8, fixext16 (0xd8) if L = 16, otherwise
//     ext8 (0xc7) if L <= 255, ext16 (0xc8) if L <= 65535, else ext32
//     (0xc9); then the type byte 0x01. So the empty set is d4 01 90 and
//     #{1} is d5 01 91 01.
//   - Nesting: a scalar has depth 0 and a container one more than its
//     deepest item, key, value or element. Depth is at most [MaxDepth]
//     (128); an empty list has depth 1.
//
// No other MessagePack form appears in a canonical encoding: no float32, no
// extension type other than 1 (the timestamp type -1 is not supported), and
// never the unused byte 0xc1.
//
// # Decoding
//
// Decoders accept any well-formed MessagePack for the values above, not only
// the canonical form: ints in longer forms (including the signed forms for
// non-negative values), float32 (widened to float64), longer string, bytes,
// array, map and extension headers, map entries and set elements in any
// order. They build the canonical value, so re-encoding gives the canonical
// bytes ([Canonicalize], [IsCanonical]). They reject, for every SDK alike
// (testdata/invalid.jsonl lists cases):
//
//   - truncated input, or bytes after the value (a whole input is one value);
//   - a declared length larger than the rest of the input (checked before
//     allocating anything);
//   - a string that is not valid UTF-8;
//   - uint64 values above 2^63-1;
//   - two map keys, or two set elements, with the same canonical encoding
//     (for example 0x01 and 0xcc 0x01);
//   - an extension type other than 1, or a set payload that is not exactly
//     one array;
//   - the byte 0xc1;
//   - nesting deeper than [MaxDepth].
//
// [Decode] and [DecodePrefix] report errors as [*DecodeError] with a byte
// offset; [Encode] rejects values with no canonical encoding (invalid UTF-8,
// too deep) with an [*EncodeError] naming the path inside the value.
package abi
