package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/squall-run/squall/storage"
)

func runVersion(args []string, w io.Writer) error {
	const syn = "squall version [--json]"
	fs := newFlagSet("version", w, syn)
	asJSON := fs.Bool("json", false, "print the versions as JSON")
	pos, err := parseInterspersed(fs, args, syn)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, syn); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(w).Encode(map[string]any{"version": version, "go": runtime.Version(), "storageFormat": storage.FormatVersion})
	}
	_, err = fmt.Fprintf(w, "squall %s (%s, storage format %d)\n", version, runtime.Version(), storage.FormatVersion)
	return err
}
