package abi

import (
	"bytes"
	"errors"
	"testing"
)

// frFuzzSeeds adds the golden vectors of one frame kind, valid and invalid,
// as seeds.
func frFuzzSeeds(f *testing.F, kind FrameKind, valid ...[]byte) {
	for _, b := range valid {
		f.Add(b)
	}
	for _, c := range frDecodeCases(f) {
		if c.frame == kind {
			f.Add(c.in)
		}
	}
}

// FuzzDecodeEffects decodes arbitrary bytes as an effects frame. It must
// never panic; a failure must be a *FrameError; a decoded frame must
// re-encode, and decoding that encoding must give the same frame and the
// same bytes again (decode → encode → decode is stable).
func FuzzDecodeEffects(f *testing.F) {
	var valid [][]byte
	for _, v := range frEffectsVectors() {
		b, err := v.f.Append(nil)
		if err != nil {
			f.Fatal(err)
		}
		valid = append(valid, b)
	}
	frFuzzSeeds(f, FrameEffects, valid...)
	f.Fuzz(func(t *testing.T, b []byte) {
		f1, err := DecodeEffects(b)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FrameError", err, err)
			}
			return
		}
		b2, err := f1.Append(nil)
		if err != nil {
			t.Fatalf("a decoded frame does not encode: %v", err)
		}
		f2, err := DecodeEffects(b2)
		if err != nil {
			t.Fatalf("the re-encoded frame does not decode: %v\n%x", err, b2)
		}
		if !frEffectsEqual(f1, f2) {
			t.Fatalf("decode → encode → decode changed the frame:\n%+v\n%+v", f1, f2)
		}
		b3, err := f2.Append(nil)
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("encoding is not stable: %v\n%x\n%x", err, b2, b3)
		}
		// The call checker never panics on a decoded frame.
		_ = NewProcessCheck(4).Frame(f1)
		_ = NewInitCheck().Frame(f1)
	})
}

// FuzzDecodeBatch decodes arbitrary bytes as a batch frame, with the same
// requirements as FuzzDecodeEffects. Payloads are opaque to the decoder, so
// the re-encoding must reproduce the input byte for byte.
func FuzzDecodeBatch(f *testing.F) {
	var valid [][]byte
	for _, v := range frBatchVectors() {
		b, err := v.f.Append(nil)
		if err != nil {
			f.Fatal(err)
		}
		valid = append(valid, b)
	}
	frFuzzSeeds(f, FrameBatch, valid...)
	f.Fuzz(func(t *testing.T, b []byte) {
		f1, err := DecodeBatch(b)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FrameError", err, err)
			}
			return
		}
		b2, err := f1.Append(nil)
		if err != nil {
			t.Fatalf("a decoded frame does not encode: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("decode → encode changed the bytes:\n%x\n%x", b, b2)
		}
		f2, err := DecodeBatch(b2)
		if err != nil || !frBatchEqual(f1, f2) {
			t.Fatalf("decode → encode → decode changed the frame: %v", err)
		}
	})
}

// FuzzDecodeQuery decodes arbitrary bytes as a query frame and as a
// response frame (the other two frames that cross the boundary), with the
// same requirements as FuzzDecodeEffects.
func FuzzDecodeQuery(f *testing.F) {
	for _, v := range frQueryVectors() {
		b, _ := v.f.Append(nil)
		f.Add(b)
	}
	for _, v := range frResponseVectors() {
		b, _ := v.f.Append(nil)
		f.Add(b)
	}
	frFuzzSeeds(f, FrameQuery)
	frFuzzSeeds(f, FrameResponse)
	f.Fuzz(func(t *testing.T, b []byte) {
		if q1, err := DecodeQuery(b); err == nil {
			b2, err := q1.Append(nil)
			if err != nil {
				t.Fatalf("a decoded query frame does not encode: %v", err)
			}
			q2, err := DecodeQuery(b2)
			if err != nil || !frQueryEqual(q1, q2) {
				t.Fatalf("query decode → encode → decode changed the frame: %v", err)
			}
		} else if !errors.As(err, new(*FrameError)) {
			t.Fatalf("error %v (%T) is not a *FrameError", err, err)
		}
		if r1, err := DecodeResponse(b); err == nil {
			b2, err := r1.Append(nil)
			if err != nil {
				t.Fatalf("a decoded response frame does not encode: %v", err)
			}
			r2, err := DecodeResponse(b2)
			if err != nil || !frResponseEqual(r1, r2) {
				t.Fatalf("response decode → encode → decode changed the frame: %v", err)
			}
		} else if !errors.As(err, new(*FrameError)) {
			t.Fatalf("error %v (%T) is not a *FrameError", err, err)
		}
	})
}

// FuzzParseModuleDef parses arbitrary MessagePack as a module definition:
// no panic, and an accepted definition re-encodes to a definition that
// parses to the same value.
func FuzzParseModuleDef(f *testing.F) {
	for _, v := range frDefVectors() {
		b, _ := v.d.Encode()
		f.Add(b)
	}
	for _, c := range frDefProblemCases() {
		f.Add(frEnc(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeModuleDef(b)
		if err != nil {
			var de *DefError
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("error %v (%T) is not a *DefError with problems", err, err)
			}
			return
		}
		enc, err := d.Encode()
		if err != nil {
			t.Fatalf("an accepted definition does not encode: %v", err)
		}
		d2, err := DecodeModuleDef(enc)
		if err != nil {
			t.Fatalf("the re-encoded definition is rejected: %v", err)
		}
		if !Equal(d.Value(), d2.Value()) {
			t.Fatalf("decode → encode → decode changed the definition")
		}
	})
}
