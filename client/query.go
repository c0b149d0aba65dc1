package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

// Invoke runs the query topology query of a deployed module with args (as
// many as the query declares, in its order) and returns its result. The
// query's deadline is ctx's; without one the node applies its default
// (10 s). Errors are *Error: CodeInvalidArgument for wrong arguments,
// CodeDeadlineExceeded for a query past its deadline, CodeAborted when a
// stage of the query failed, CodeNotFound for an unknown module or query.
func (c *Client) Invoke(ctx context.Context, module, query string, args ...abi.Value) (abi.Value, error) {
	res, err := c.queries.Invoke(ctx, connect.NewRequest(&squallv1.InvokeRequest{Module: module, Query: query,
		Args: apiconv.ValuesToProto(args)}))
	if err != nil {
		return abi.Nil(), wrap(err)
	}
	v, err := apiconv.ValueFromProto("result", res.Msg.GetResult())
	if err != nil {
		return abi.Nil(), fmt.Errorf("client: the node sent an invalid value: %w", err)
	}
	return v, nil
}
