package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

// runQuery is `squall query MODULE QUERY [ARG...]`: it invokes a query
// topology with its arguments (each JSON, or Squall's value text form) and
// prints the result.
func runQuery(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall query MODULE QUERY [ARG...] [--timeout D]"
	fs := newFlagSet("query", stdout, syn)
	var cf clientFlags
	cf.register(fs)
	var timeout time.Duration
	fs.DurationVar(&timeout, "timeout", 0, "the query's deadline (default: the node's, 10s); at most 5m")
	pos, err := parseInterspersed(fs, args, syn)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return fmt.Errorf("%w: %s (got %d arguments, want MODULE, QUERY and the query's arguments)", errUsage, syn, len(pos))
	}
	if timeout < 0 {
		return fmt.Errorf("%w: --timeout %s: it must be positive", errUsage, timeout)
	}
	qargs := make([]abi.Value, 0, len(pos)-2)
	for i, s := range pos[2:] {
		v, err := parseValue(s)
		if err != nil {
			return fmt.Errorf("%w: argument %d: %v", errUsage, i+1, err)
		}
		qargs = append(qargs, v)
	}
	c, err := newClient(cf.addr, cf.token)
	if err != nil {
		return err
	}
	defer c.Close()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	v, err := c.Invoke(ctx, pos[0], pos[1], qargs...)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, &squallv1.InvokeResponse{Result: apiconv.ValueToProto(v)})
	}
	fmt.Fprintln(stdout, v)
	return nil
}
