package squall

import (
	"bytes"
	"testing"

	"github.com/squall-run/squall/guest-sdks/go/internal/golden"
)

// FuzzDecode checks that Decode never panics, and that what it accepts
// re-encodes canonically and decodes back to the same value.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"values.jsonl", "noncanonical.jsonl"} {
		lines, err := golden.Read(golden.RootDir, name)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range lines {
			if l.Has("input") {
				f.Add(l.Hex("input"))
			} else {
				f.Add(l.Hex("hex"))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("decoded %x to %s, which does not encode: %v", b, v, err)
		}
		back, err := Decode(enc)
		if err != nil || !Equal(back, v) || !IsCanonical(enc) {
			t.Fatalf("%x: %s -> %x -> %s (%v)", b, v, enc, back, err)
		}
		if IsCanonical(b) != bytes.Equal(b, enc) {
			t.Fatalf("IsCanonical(%x) disagrees with re-encoding %x", b, enc)
		}
	})
}

// FuzzGuestFrames checks that the guest's frame decoders never panic.
func FuzzGuestFrames(f *testing.F) {
	for _, name := range []string{"init.jsonl", "batch.jsonl", "response.jsonl", "invalid.jsonl"} {
		lines, err := golden.Read(golden.RootDir+"/frames", name)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range lines {
			f.Add(l.Hex("hex"))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeInit(b)
		if bf, err := decodeBatch(b); err == nil {
			for _, it := range bf.items {
				_, _ = Decode(it.payload)
			}
		}
		_, _ = decodeResponse(b)
	})
}
