module github.com/squall-run/squall/testnode/testdata/pausemod

go 1.24

require github.com/squall-run/squall/guest-sdks/go v0.0.0

replace github.com/squall-run/squall/guest-sdks/go => ../../../guest-sdks/go
