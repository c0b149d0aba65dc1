// Package apiconv converts between the public API's messages
// (api/squall/v1, imported as squallv1) and the values the engine works
// with: [abi.Value], [abi.Path], [abi.Schema], [abi.ModuleDef] and
// [abi.AckLevel].
//
// Conversions from the API check what protovalidate cannot express (a
// value's nesting depth and duplicate map keys, a step's arguments, where
// a terminal may appear) and report the first problem as a [*FieldError]
// naming the offending field the way protovalidate does, from the request
// message down:
//
//	path.navs[2].sorted_range.from.list_value.items[0]: no kind set; ...
//
// so that a server can return every input problem, whichever layer found
// it, in the same form. They never panic on any input, including messages
// a client built by hand (nil pointers, unset oneofs) that a validator did
// not see.
//
// Conversions to the API take values the engine produced and return
// canonical messages: map entries and set elements in canonical order.
package apiconv
