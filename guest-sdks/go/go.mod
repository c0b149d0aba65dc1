module github.com/squall-run/squall/guest-sdks/go

go 1.24
