package server

import (
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"

	"github.com/squall-run/squall/api/squall/v1/squallv1connect"
	"github.com/squall-run/squall/internal/engine"
)

// Defaults of [Config].
const (
	// DefaultMaxArtifactBytes bounds a deployed artifact: 256 MiB, room
	// for interpreter-based modules (tens of MB).
	DefaultMaxArtifactBytes = 256 << 20
	// maxMessageBytes bounds one request message: a 1 MiB Deploy chunk
	// plus framing, or an AppendBatch.
	maxMessageBytes = 4 << 20
)

// Config configures a [Server]. Engine and Registry are required.
type Config struct {
	Engine   *engine.Engine
	Registry *Registry
	// Logger receives internal errors (with the procedure) and deploys.
	// Nil discards them.
	Logger *slog.Logger
	// Token, when not empty, is the bearer token every request but
	// ClusterService.Health must carry.
	Token string
	// MaxArtifactBytes bounds a deployed artifact (default
	// DefaultMaxArtifactBytes).
	MaxArtifactBytes int64
	// Version and Address describe the node in ClusterService.Status.
	Version, Address string
}

// Server serves the public API of one node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	started  time.Time
	draining atomic.Bool
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Registry == nil {
		return nil, errors.New("server: Config.Engine and Config.Registry are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxArtifactBytes <= 0 {
		cfg.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	return &Server{cfg: cfg, log: cfg.Logger, started: time.Now()}, nil
}

// SetDraining makes Health report DRAINING: the node is shutting down.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Handler returns the HTTP handler of every service, with the
// interceptors: error mapping, then authentication (when a token is set),
// then validation.
func (s *Server) Handler() (http.Handler, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	ics := []connect.Interceptor{errorInterceptor{log: s.log}}
	if s.cfg.Token != "" {
		ics = append(ics, authInterceptor{token: []byte(s.cfg.Token)})
	}
	ics = append(ics, validateInterceptor{v: v})
	opts := []connect.HandlerOption{
		connect.WithInterceptors(ics...),
		connect.WithReadMaxBytes(maxMessageBytes),
	}
	mux := http.NewServeMux()
	mux.Handle(squallv1connect.NewModuleServiceHandler(&moduleService{s}, opts...))
	mux.Handle(squallv1connect.NewDepotServiceHandler(&depotService{s}, opts...))
	mux.Handle(squallv1connect.NewPStateServiceHandler(&pstateService{s}, opts...))
	mux.Handle(squallv1connect.NewQueryServiceHandler(&queryService{s}, opts...))
	mux.Handle(squallv1connect.NewClusterServiceHandler(&clusterService{s}, opts...))
	return mux, nil
}
