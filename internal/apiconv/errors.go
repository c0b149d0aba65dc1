package apiconv

import (
	"strconv"
	"strings"
)

// FieldError reports a field of an API message that cannot be converted.
// Its text is meant for the client: it names the field and says what to
// fix, with no package prefix.
type FieldError struct {
	// Field locates the field from the request message, as protovalidate
	// names fields: "record.list_value.items[3]",
	// "path.navs[2].sorted_range.from", `ack_returns["counts"]`.
	Field string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error renders the error as "field: message".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// convError is a conversion failure deep inside a message. It collects the
// field path while the recursion unwinds (innermost segment first), so
// that a conversion that succeeds builds no strings.
type convError struct {
	rev []string
	msg string
}

func fail(msg string) *convError { return &convError{msg: msg} }

// in prepends a field segment (".list_value", ".items[2]") to the error's
// location.
func (e *convError) in(seg string) *convError {
	e.rev = append(e.rev, seg)
	return e
}

// field returns the error as a FieldError located below root.
func (e *convError) field(root string) *FieldError {
	var b strings.Builder
	b.WriteString(root)
	for i := len(e.rev) - 1; i >= 0; i-- {
		b.WriteString(e.rev[i])
	}
	f := b.String()
	if root == "" {
		f = strings.TrimPrefix(f, ".")
	}
	return &FieldError{Field: f, Msg: e.msg}
}

// index renders a repeated-field segment: ".items[2]".
func index(name string, i int) string { return "." + name + "[" + strconv.Itoa(i) + "]" }
