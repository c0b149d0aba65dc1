package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/squall-run/squall/storage"
)

func runVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "squall %s (%s, storage format %d)\n", version, runtime.Version(), storage.FormatVersion)
	return err
}
