package abi

import (
	"math"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Nil(), "nil"},
		{Bool(true), "true"},
		{Bool(false), "false"},
		{Int(42), "42"},
		{Int(math.MinInt64), "-9223372036854775808"},
		{Float(1.5), "1.5"},
		{Float(1), "1.0"},
		{Float(100000), "100000.0"},
		{Float(1e21), "1e+21"},
		{Float(5e-324), "5e-324"},
		{Float(negZero()), "-0.0"},
		{Float(0), "0.0"},
		{Float(math.NaN()), "NaN"},
		{Float(math.Inf(1)), "+Inf"},
		{Float(math.Inf(-1)), "-Inf"},
		{String("héllo"), `"héllo"`},
		{String("a\"b\n\x00"), `"a\"b\n\x00"`},
		{String("\xff"), `"\xff"`},
		{Bytes([]byte{0, 0xff}), `0x"00ff"`},
		{Bytes(nil), `0x""`},
		{List(Int(1), Int(2)), "[1, 2]"},
		{List(), "[]"},
		{Map(MapEntry{String("a"), Int(1)}, MapEntry{Int(2), List(Nil())}), `{2: [nil], "a": 1}`},
		{Map(), "{}"},
		{Set(Int(2), Int(1)), "#{1, 2}"},
		{Set(), "#{}"},
		{List(Set(String("x")), Map(MapEntry{Bytes(nil), Float(2)})), `[#{"x"}, {0x"": 2.0}]`},
	}
	for _, tc := range tests {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
		if got := tc.v.GoString(); got != tc.want {
			t.Errorf("GoString() = %s, want %s", got, tc.want)
		}
	}
}
