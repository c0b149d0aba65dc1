module github.com/squall-run/squall/internal/conformance/modules/abi11/go

go 1.24

require github.com/squall-run/squall/guest-sdks/go v0.0.0

replace github.com/squall-run/squall/guest-sdks/go => ../../../../../guest-sdks/go
