"""A stand-in for the SDK that misbehaves in the ways the runtime's C shim
must turn into ERROR effects (internal/build/python_test.go): the entry
module's name, in /squall/meta.json, says how."""
