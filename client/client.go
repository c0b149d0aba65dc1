package client

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/api/squall/v1/squallv1connect"
	"github.com/squall-run/squall/internal/apiconv"
)

// Client talks to one Squall node. It is safe for concurrent use.
type Client struct {
	addr    string
	hc      *http.Client
	ownHC   bool
	modules squallv1connect.ModuleServiceClient
	depots  squallv1connect.DepotServiceClient
	pstates squallv1connect.PStateServiceClient
	queries squallv1connect.QueryServiceClient
	cluster squallv1connect.ClusterServiceClient
}

type config struct {
	token    string
	hc       *http.Client
	tls      *tls.Config
	connOpts []connect.ClientOption
}

// Option configures [New].
type Option func(*config)

// WithToken sends token as a bearer token (Authorization: Bearer) on every
// request. Nodes started with a token refuse requests without it.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithHTTPClient uses hc instead of the client's own. hc must speak HTTP/2
// (for http:// URLs: unencrypted HTTP/2) for [Client.Deploy], whose upload
// is a client stream; unary calls also work over HTTP/1.1. [Client.Close]
// does not close hc's connections.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.hc = hc } }

// WithTLS sets the TLS configuration used for https:// URLs (for example a
// private CA's RootCAs). It is ignored with [WithHTTPClient].
func WithTLS(cfg *tls.Config) Option { return func(c *config) { c.tls = cfg } }

// WithConnectOptions passes options to the generated Connect clients (for
// example connect.WithInterceptors or connect.WithSendGzip).
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return func(c *config) { c.connOpts = append(c.connOpts, opts...) }
}

// New returns a client of the node at addr, a URL such as
// http://127.0.0.1:7790 or https://squall.example.com. It does not
// connect until the first call.
func New(addr string, opts ...Option) (*Client, error) {
	addr = strings.TrimRight(addr, "/")
	if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
		return nil, fmt.Errorf("client: address %q: give a URL such as http://127.0.0.1:7790", addr)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	c := &Client{addr: addr, hc: cfg.hc}
	if c.hc == nil {
		var p http.Protocols
		if strings.HasPrefix(addr, "http://") {
			p.SetUnencryptedHTTP2(true)
		} else {
			p.SetHTTP2(true)
		}
		tc := cfg.tls
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c.hc = &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: tc}}
		c.ownHC = true
	}
	copts := cfg.connOpts
	if cfg.token != "" {
		copts = append([]connect.ClientOption{connect.WithInterceptors(bearer(cfg.token))}, copts...)
	}
	c.modules = squallv1connect.NewModuleServiceClient(c.hc, addr, copts...)
	c.depots = squallv1connect.NewDepotServiceClient(c.hc, addr, copts...)
	c.pstates = squallv1connect.NewPStateServiceClient(c.hc, addr, copts...)
	c.queries = squallv1connect.NewQueryServiceClient(c.hc, addr, copts...)
	c.cluster = squallv1connect.NewClusterServiceClient(c.hc, addr, copts...)
	return c, nil
}

// Addr returns the node's URL.
func (c *Client) Addr() string { return c.addr }

// Close closes the client's idle connections. Calls in flight finish.
func (c *Client) Close() error {
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

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

// DefaultTasks is the number of tasks (partitions) [Client.Deploy] asks
// for when [DeployOptions.Tasks] is 0.
const DefaultTasks = 4

// ChunkSize is the size of the chunks [Client.Deploy] streams.
const ChunkSize = 1 << 20

// DeployOptions are the options of [Client.Deploy]. The zero value deploys
// under the module's own name with [DefaultTasks] tasks.
type DeployOptions struct {
	// Name deploys the module under this name instead of the one it
	// declares.
	Name string
	// Tasks is the number of partitions, a power of two fixed at the first
	// deploy (0: DefaultTasks).
	Tasks uint32
	// ValidateOnly checks the module and returns its description without
	// deploying it.
	ValidateOnly bool
	// Progress, when set, is called after each chunk is sent with the
	// bytes sent so far and the total.
	Progress func(sent, total int64)
}

// Deploy uploads a module's WebAssembly artifact in [ChunkSize] chunks
// after a header with its size and SHA-256 digest (the node refuses a
// truncated or corrupted upload), and returns the deployed module's
// description.
func (c *Client) Deploy(ctx context.Context, wasm []byte, opts DeployOptions) (*squallv1.ModuleDescription, error) {
	tasks := opts.Tasks
	if tasks == 0 {
		tasks = DefaultTasks
	}
	sum := sha256.Sum256(wasm)
	st := c.modules.Deploy(ctx)
	err := st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Header{Header: &squallv1.DeployHeader{
		Module: opts.Name, Tasks: tasks, ValidateOnly: opts.ValidateOnly,
		Artifact: &squallv1.ArtifactHeader{SizeBytes: uint64(len(wasm)), Sha256: sum[:]}}}})
	for off := 0; err == nil && off < len(wasm); off += ChunkSize {
		end := min(off+ChunkSize, len(wasm))
		err = st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Chunk{Chunk: wasm[off:end]}})
		if err == nil && opts.Progress != nil {
			opts.Progress(int64(end), int64(len(wasm)))
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		_, _ = st.CloseAndReceive()
		return nil, wrap(err)
	}
	// On io.EOF the server has answered early (an error); CloseAndReceive
	// returns it.
	res, err := st.CloseAndReceive()
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.GetModule(), nil
}

// UpdateOptions configures [Client.Update].
type UpdateOptions struct {
	// ValidateOnly checks the artifact and that the update is allowed,
	// and returns the description the module would have, without updating
	// it.
	ValidateOnly bool
	// Progress, when set, is called after each chunk is sent with the
	// bytes sent so far and the total.
	Progress func(sent, total int64)
}

// Update replaces the code of the deployed module with wasm, uploaded as
// [Client.Deploy] does. The node drains the module (the records in flight
// are finished), then runs the new code from where the old one stopped.
// The new artifact's definition (depots, PStates, topologies) must be the
// running one; otherwise the error is [ErrFailedPrecondition] and the
// module keeps running its old code (changing the definition needs
// [Client.Destroy] and a new deploy).
func (c *Client) Update(ctx context.Context, module string, wasm []byte, opts UpdateOptions) (*squallv1.ModuleDescription, error) {
	sum := sha256.Sum256(wasm)
	st := c.modules.Update(ctx)
	err := st.Send(&squallv1.UpdateRequest{Message: &squallv1.UpdateRequest_Header{Header: &squallv1.UpdateHeader{
		Module: module, ValidateOnly: opts.ValidateOnly,
		Artifact: &squallv1.ArtifactHeader{SizeBytes: uint64(len(wasm)), Sha256: sum[:]}}}})
	for off := 0; err == nil && off < len(wasm); off += ChunkSize {
		end := min(off+ChunkSize, len(wasm))
		err = st.Send(&squallv1.UpdateRequest{Message: &squallv1.UpdateRequest_Chunk{Chunk: wasm[off:end]}})
		if err == nil && opts.Progress != nil {
			opts.Progress(int64(end), int64(len(wasm)))
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		_, _ = st.CloseAndReceive()
		return nil, wrap(err)
	}
	res, err := st.CloseAndReceive()
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.GetModule(), nil
}

// Destroy stops the module and deletes it with all its data: depots,
// PStates, progress and its artifact. It cannot be undone. Destroying a
// module that is not deployed fails with [ErrNotFound].
func (c *Client) Destroy(ctx context.Context, module string) error {
	_, err := c.modules.Destroy(ctx, connect.NewRequest(&squallv1.DestroyRequest{Module: module}))
	return wrap(err)
}

// Modules lists the deployed modules.
func (c *Client) Modules(ctx context.Context) ([]*squallv1.ModuleSummary, error) {
	res, err := c.modules.List(ctx, connect.NewRequest(&squallv1.ListRequest{}))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.GetModules(), nil
}

// Describe returns a deployed module's depots, PStates (with their
// schemas), topologies and queries.
func (c *Client) Describe(ctx context.Context, module string) (*squallv1.ModuleDescription, error) {
	res, err := c.modules.Describe(ctx, connect.NewRequest(&squallv1.DescribeRequest{Module: module}))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.GetModule(), nil
}

// AckLevel is how long an append waits.
type AckLevel int

const (
	// AckNone returns once the record is written to the depot.
	AckNone AckLevel = iota
	// AckAppend returns once the record is durable.
	AckAppend
	// Ack returns once every stream topology consuming the depot has
	// processed the record, with their ack returns.
	Ack
)

func (l AckLevel) proto() squallv1.AckLevel {
	switch l {
	case AckAppend:
		return squallv1.AckLevel_ACK_LEVEL_APPEND_ACK
	case Ack:
		return squallv1.AckLevel_ACK_LEVEL_ACK
	}
	return squallv1.AckLevel_ACK_LEVEL_NONE
}

// String returns "none", "append" or "ack" (the CLI's --ack values).
func (l AckLevel) String() string {
	switch l {
	case AckNone:
		return "none"
	case AckAppend:
		return "append"
	case Ack:
		return "ack"
	}
	return fmt.Sprintf("AckLevel(%d)", int(l))
}

// ParseAckLevel parses "none", "append" or "ack".
func ParseAckLevel(s string) (AckLevel, error) {
	for _, l := range []AckLevel{AckNone, AckAppend, Ack} {
		if s == l.String() {
			return l, nil
		}
	}
	return 0, fmt.Errorf("ack level %q: use none, append or ack", s)
}

// AppendResult is where an appended record went and, with [Ack], what the
// topologies returned for it.
type AppendResult struct {
	Partition uint32
	Offset    uint64
	// AckReturns holds each topology's ack return, by topology name (with
	// [Ack] only; topologies that returned nothing are absent).
	AckReturns map[string]abi.Value
	// Failures lists processing failures of this record (AppendBatch
	// only; a failed Append returns an [*Error] instead).
	Failures []string
}

func appendResult(partition uint32, offset uint64, rets map[string]*squallv1.Value, failures []string) (AppendResult, error) {
	m, err := apiconv.ValueMapFromProto("ack_returns", rets)
	if err != nil {
		return AppendResult{}, fmt.Errorf("client: the node sent an invalid ack return: %w", err)
	}
	return AppendResult{Partition: partition, Offset: offset, AckReturns: m, Failures: failures}, nil
}

// Append appends record to a module's depot and waits as ack says. When
// the record was appended but its processing failed, the error matches
// [ErrProcessingFailed] and carries an [AppendFailure] (do not append the
// record again blindly: it is in the depot).
func (c *Client) Append(ctx context.Context, module, depot string, record abi.Value, ack AckLevel) (AppendResult, error) {
	res, err := c.depots.Append(ctx, connect.NewRequest(&squallv1.AppendRequest{Module: module, Depot: depot,
		Record: apiconv.ValueToProto(record), AckLevel: ack.proto()}))
	if err != nil {
		return AppendResult{}, wrap(err)
	}
	m := res.Msg
	return appendResult(m.GetPartition(), m.GetOffset(), m.GetAckReturns(), nil)
}

// AppendBatch appends records in order in one request and returns one
// result per record. With [Ack], a record whose processing failed has
// Failures instead of failing the batch.
func (c *Client) AppendBatch(ctx context.Context, module, depot string, records []abi.Value, ack AckLevel) ([]AppendResult, error) {
	res, err := c.depots.AppendBatch(ctx, connect.NewRequest(&squallv1.AppendBatchRequest{Module: module, Depot: depot,
		Records: apiconv.ValuesToProto(records), AckLevel: ack.proto()}))
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]AppendResult, 0, len(res.Msg.GetResults()))
	for _, r := range res.Msg.GetResults() {
		ar, err := appendResult(r.GetPartition(), r.GetOffset(), r.GetAckReturns(), r.GetFailures())
		if err != nil {
			return nil, err
		}
		out = append(out, ar)
	}
	return out, nil
}

// SelectOption is an option of [Client.Select] and [Client.SelectOne].
type SelectOption func(*selectConfig)

type selectConfig struct{ partition *uint32 }

// OnPartition reads the given partition instead of the one owning the
// path's first key (needed for paths that do not start with a key, and
// for global PStates' replicas).
func OnPartition(p uint32) SelectOption { return func(c *selectConfig) { c.partition = &p } }

func selectOpts(opts []SelectOption) selectConfig {
	var c selectConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Select returns every value path navigates to in a module's PState.
func (c *Client) Select(ctx context.Context, module, pstate string, path abi.Path, opts ...SelectOption) ([]abi.Value, error) {
	pp, err := pathToProto(path)
	if err != nil {
		return nil, err
	}
	sc := selectOpts(opts)
	res, err := c.pstates.Select(ctx, connect.NewRequest(&squallv1.SelectRequest{Module: module, Pstate: pstate, Path: pp, Partition: sc.partition}))
	if err != nil {
		return nil, wrap(err)
	}
	vs, err := apiconv.ValuesFromProto("values", res.Msg.GetValues())
	if err != nil {
		return nil, fmt.Errorf("client: the node sent an invalid value: %w", err)
	}
	return vs, nil
}

// SelectOne returns the one value path navigates to; a path that
// navigates to no value or several fails with [ErrFailedPrecondition].
func (c *Client) SelectOne(ctx context.Context, module, pstate string, path abi.Path, opts ...SelectOption) (abi.Value, error) {
	pp, err := pathToProto(path)
	if err != nil {
		return abi.Nil(), err
	}
	sc := selectOpts(opts)
	res, err := c.pstates.SelectOne(ctx, connect.NewRequest(&squallv1.SelectOneRequest{Module: module, Pstate: pstate, Path: pp, Partition: sc.partition}))
	if err != nil {
		return abi.Nil(), wrap(err)
	}
	v, err := apiconv.ValueFromProto("value", res.Msg.GetValue())
	if err != nil {
		return abi.Nil(), fmt.Errorf("client: the node sent an invalid value: %w", err)
	}
	return v, nil
}

func pathToProto(p abi.Path) (*squallv1.Path, error) {
	pp, err := apiconv.PathToProto(p)
	if err != nil {
		return nil, &Error{Code: connect.CodeInvalidArgument, Message: "path: " + err.Error()}
	}
	return pp, nil
}

// Status returns the node's status: the node, its modules and their
// topologies' progress and lag.
func (c *Client) Status(ctx context.Context) (*squallv1.StatusResponse, error) {
	res, err := c.cluster.Status(ctx, connect.NewRequest(&squallv1.StatusRequest{}))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg, nil
}

// Health returns the node's health (it needs no token).
func (c *Client) Health(ctx context.Context) (*squallv1.HealthResponse, error) {
	res, err := c.cluster.Health(ctx, connect.NewRequest(&squallv1.HealthRequest{}))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg, nil
}
