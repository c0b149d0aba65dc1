package apiconv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/api/squall/v1/squallv1connect"
)

// deployReceiver is the receiving half of ModuleService.Deploy as the API
// defines it: a header, then chunks whose sizes and digest must match it.
type deployReceiver struct {
	squallv1connect.UnimplementedModuleServiceHandler
}

func (deployReceiver) Deploy(ctx context.Context, stream *connect.ClientStream[squallv1.DeployRequest]) (*connect.Response[squallv1.DeployResponse], error) {
	var header *squallv1.DeployHeader
	h := sha256.New()
	var n uint64
	for stream.Receive() {
		msg := stream.Msg()
		if err := validator.Validate(msg); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		switch m := msg.GetMessage().(type) {
		case *squallv1.DeployRequest_Header:
			if header != nil {
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("header: only the first message carries the header"))
			}
			header = m.Header
		case *squallv1.DeployRequest_Chunk:
			if header == nil {
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the first message must carry the header"))
			}
			n += uint64(len(m.Chunk))
			if n > header.GetArtifact().GetSizeBytes() {
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the chunks exceed the declared size"))
			}
			h.Write(m.Chunk)
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if header == nil || n != header.GetArtifact().GetSizeBytes() || !bytes.Equal(h.Sum(nil), header.GetArtifact().GetSha256()) {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("artifact: got %d bytes with another digest", n))
	}
	return connect.NewResponse(&squallv1.DeployResponse{Module: &squallv1.ModuleDescription{
		Name: header.GetModule(), Tasks: header.GetTasks(),
		Artifact: &squallv1.ArtifactInfo{SizeBytes: n, Sha256: h.Sum(nil)},
	}}), nil
}

// TestDeployStreams64MiB checks the design of Deploy end to end over
// loopback: a 64 MiB artifact goes through in 1 MiB chunks with every
// message validated and a per-message read limit of 2 MiB, over plain-text
// HTTP/2 (which client streaming needs).
func TestDeployStreams64MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 64 MiB")
	}
	mux := http.NewServeMux()
	mux.Handle(squallv1connect.NewModuleServiceHandler(deployReceiver{}, connect.WithReadMaxBytes(2<<20)))
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	var clientProtocols http.Protocols
	clientProtocols.SetUnencryptedHTTP2(true)
	httpClient := &http.Client{Transport: &http.Transport{Protocols: &clientProtocols}}
	defer httpClient.CloseIdleConnections()
	client := squallv1connect.NewModuleServiceClient(httpClient, "http://"+ln.Addr().String())

	artifact := make([]byte, 64<<20)
	for i := range artifact {
		artifact[i] = byte(i * 7)
	}
	sum := sha256.Sum256(artifact)
	start := time.Now()
	stream := client.Deploy(context.Background())
	if err := stream.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Header{Header: &squallv1.DeployHeader{
		Module: "big", Tasks: 4, Artifact: &squallv1.ArtifactHeader{SizeBytes: uint64(len(artifact)), Sha256: sum[:]},
	}}}); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(artifact); off += 1 << 20 {
		if err := stream.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Chunk{Chunk: artifact[off:min(off+1<<20, len(artifact))]}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Msg.GetModule().GetArtifact(); got.GetSizeBytes() != 64<<20 || !bytes.Equal(got.GetSha256(), sum[:]) {
		t.Fatalf("server got %v", got)
	}
	t.Logf("64 MiB deployed in %v", time.Since(start))

	// A chunk over the limit is refused by validation, not by the transport.
	stream = client.Deploy(context.Background())
	_ = stream.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Header{Header: &squallv1.DeployHeader{
		Tasks: 4, Artifact: &squallv1.ArtifactHeader{SizeBytes: 2 << 20, Sha256: sum[:]},
	}}})
	_ = stream.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Chunk{Chunk: artifact[:1<<20+1]}})
	_, err = stream.CloseAndReceive()
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("oversized chunk: %v", err)
	}
}
