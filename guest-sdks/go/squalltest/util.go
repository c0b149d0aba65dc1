package squalltest

import (
	"errors"
	"strconv"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

func itoa(i int) string { return strconv.Itoa(i) }

// hostPathError renders a path that failed squall.ParsePath or
// Path.Validate as the host does.
func hostPathError(err error, path string) error {
	var pe *squall.PathError
	if errors.As(err, &pe) {
		return &pathError{step: pe.Step, nav: pe.Nav, msg: pe.Msg, path: path}
	}
	return err
}
