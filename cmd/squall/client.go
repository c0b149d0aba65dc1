package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/api/squall/v1/squallv1connect"
	"github.com/squall-run/squall/internal/pathtext"
)

// apiClient holds the generated clients of one node.
type apiClient struct {
	modules squallv1connect.ModuleServiceClient
	depots  squallv1connect.DepotServiceClient
	pstates squallv1connect.PStateServiceClient
	cluster squallv1connect.ClusterServiceClient
	http    *http.Client
}

// newClient returns clients for the node at addr: HTTP/2 (unencrypted for
// http:// URLs, which Deploy's client stream needs), with the bearer
// token on every request when one is given.
func newClient(addr, token string) (*apiClient, error) {
	if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
		return nil, fmt.Errorf("--addr %q: give a URL such as http://127.0.0.1:7790", addr)
	}
	var protocols http.Protocols
	if strings.HasPrefix(addr, "http://") {
		protocols.SetUnencryptedHTTP2(true)
	} else {
		protocols.SetHTTP2(true)
	}
	hc := &http.Client{Transport: &http.Transport{Protocols: &protocols, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(token)))
	}
	return &apiClient{
		modules: squallv1connect.NewModuleServiceClient(hc, addr, opts...),
		depots:  squallv1connect.NewDepotServiceClient(hc, addr, opts...),
		pstates: squallv1connect.NewPStateServiceClient(hc, addr, opts...),
		cluster: squallv1connect.NewClusterServiceClient(hc, addr, opts...),
		http:    hc,
	}, nil
}

func (c *apiClient) close() { c.http.CloseIdleConnections() }

// bearer adds the Authorization header to every request.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, s connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, s)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// deployChunk is the chunk size of Deploy streams.
const deployChunk = 1 << 20

// deploy streams wasm to the node, reporting progress to progress (nil:
// none).
func (c *apiClient) deploy(ctx context.Context, name string, tasks uint32, wasm []byte, validateOnly bool, progress io.Writer) (*squallv1.ModuleDescription, error) {
	sum := sha256.Sum256(wasm)
	st := c.modules.Deploy(ctx)
	err := st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Header{Header: &squallv1.DeployHeader{
		Module: name, Tasks: tasks, ValidateOnly: validateOnly,
		Artifact: &squallv1.ArtifactHeader{SizeBytes: uint64(len(wasm)), Sha256: sum[:]}}}})
	for off := 0; err == nil && off < len(wasm); off += deployChunk {
		end := min(off+deployChunk, len(wasm))
		err = st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Chunk{Chunk: wasm[off:end]}})
		if progress != nil && err == nil {
			fmt.Fprintf(progress, "\rdeploy: %3d%% of %d bytes", end*100/len(wasm), len(wasm))
		}
	}
	if progress != nil {
		fmt.Fprintln(progress)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	res, err := st.CloseAndReceive()
	if err != nil {
		return nil, err
	}
	return res.Msg.GetModule(), nil
}

// parseValue reads a command-line value: JSON (objects become maps with
// string keys, integral numbers ints, other numbers doubles), or else the
// text form of values (0x"cafe" for bytes, #{1, 2} for sets).
func parseValue(s string) (abi.Value, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err == nil && !dec.More() {
		return jsonValue(x)
	}
	v, err := pathtext.ParseValue(s)
	if err != nil {
		return abi.Nil(), fmt.Errorf("%v (values are JSON, or Squall's text form for bytes 0x\"cafe\" and sets #{1, 2})", err)
	}
	return v, nil
}

func jsonValue(x any) (abi.Value, error) {
	switch x := x.(type) {
	case nil:
		return abi.Nil(), nil
	case bool:
		return abi.Bool(x), nil
	case string:
		return abi.String(x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return abi.Int(i), nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return abi.Nil(), fmt.Errorf("number %s is out of range", x)
		}
		return abi.Float(f), nil
	case []any:
		items := make([]abi.Value, len(x))
		for i, it := range x {
			v, err := jsonValue(it)
			if err != nil {
				return abi.Nil(), err
			}
			items[i] = v
		}
		return abi.List(items...), nil
	case map[string]any:
		es := make([]abi.MapEntry, 0, len(x))
		for k, it := range x {
			v, err := jsonValue(it)
			if err != nil {
				return abi.Nil(), err
			}
			es = append(es, abi.MapEntry{Key: abi.String(k), Val: v})
		}
		return abi.Map(es...), nil
	}
	return abi.Nil(), fmt.Errorf("unexpected JSON %T", x)
}

// printJSON writes m in the Connect JSON form.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// errorMessage renders an API error for the terminal: the Connect code
// and the server's message.
func errorMessage(err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		if ce.Code() == connect.CodeUnavailable && strings.Contains(ce.Message(), "connect") {
			return fmt.Errorf("%s: %s (is a node running? start one with `squall dev`)", ce.Code(), ce.Message())
		}
		return fmt.Errorf("%s: %s", ce.Code(), ce.Message())
	}
	return err
}
