package abi

// Equal reports whether a and b are the same value: the same kind and the
// same contents, compared structurally. Floats compare by their bits, so NaN
// equals NaN and -0.0 does not equal 0.0; an int never equals a float. Two
// values are equal exactly when their canonical encodings are equal.
func Equal(a, b Value) bool {
	if a.kind != b.kind || a.n != b.n || a.s != b.s || len(a.c) != len(b.c) {
		return false
	}
	for i := range a.c {
		if !Equal(a.c[i], b.c[i]) {
			return false
		}
	}
	return true
}
