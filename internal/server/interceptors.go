package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/squall-run/squall/api/squall/v1/squallv1connect"
)

// errorInterceptor maps every error a handler (or an inner interceptor)
// returns with [toConnect]. It is the outermost interceptor.
type errorInterceptor struct{ log *slog.Logger }

func (i errorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			return nil, toConnect(i.log, req.Spec().Procedure, err)
		}
		return res, nil
	}
}

func (errorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i errorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := next(ctx, conn); err != nil {
			return toConnect(i.log, conn.Spec().Procedure, err)
		}
		return nil
	}
}

// authInterceptor checks the bearer token of every request but Health.
type authInterceptor struct{ token []byte }

func (a authInterceptor) check(procedure string, h interface{ Get(string) string }) error {
	if procedure == squallv1connect.ClusterServiceHealthProcedure {
		return nil
	}
	v := h.Get("Authorization")
	if v == "" {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("this node requires a bearer token: send the header `Authorization: Bearer TOKEN` (squall: --token or SQUALL_TOKEN)"))
	}
	tok, ok := strings.CutPrefix(v, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), a.token) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("wrong bearer token: use the token in the node's --token-file"))
	}
	return nil
}

func (a authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := a.check(req.Spec().Procedure, req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := a.check(conn.Spec().Procedure, conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// validateInterceptor checks every request and every streamed request
// message against the protovalidate rules of the proto files.
type validateInterceptor struct{ v protovalidate.Validator }

func (i validateInterceptor) validate(msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	return i.v.Validate(m)
}

func (i validateInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := i.validate(req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (validateInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i validateInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, &validatingConn{StreamingHandlerConn: conn, v: i})
	}
}

type validatingConn struct {
	connect.StreamingHandlerConn
	v validateInterceptor
}

func (c *validatingConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return c.v.validate(msg)
}
