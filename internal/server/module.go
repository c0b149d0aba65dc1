package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"

	"connectrpc.com/connect"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

type moduleService struct{ s *Server }

// receiveArtifact reads the chunks after the header and checks them
// against it.
func (s *Server) receiveArtifact(ctx context.Context, h *squallv1.ArtifactHeader, next func() (chunk []byte, header bool, ok bool), streamErr func() error) ([]byte, error) {
	if int64(h.GetSizeBytes()) > s.cfg.MaxArtifactBytes {
		return nil, tooLarge("header.artifact.size_bytes: the artifact is %d bytes; this node takes at most %d (squall server --max-artifact-bytes)", h.GetSizeBytes(), s.cfg.MaxArtifactBytes)
	}
	buf := bytes.NewBuffer(make([]byte, 0, h.GetSizeBytes()))
	sum := sha256.New()
	for {
		chunk, header, ok := next()
		if !ok {
			break
		}
		if header {
			return nil, badRequest("header: only the first message of the stream carries a header; send the artifact in chunk messages after it")
		}
		if uint64(buf.Len()+len(chunk)) > h.GetSizeBytes() {
			return nil, badRequest("chunk: the chunks carry more than header.artifact.size_bytes (%d bytes)", h.GetSizeBytes())
		}
		buf.Write(chunk)
		sum.Write(chunk)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if err := streamErr(); err != nil {
		return nil, err
	}
	if uint64(buf.Len()) != h.GetSizeBytes() {
		return nil, badRequest("the stream ended after %d bytes, but header.artifact.size_bytes is %d: the upload is truncated", buf.Len(), h.GetSizeBytes())
	}
	if got := sum.Sum(nil); !bytes.Equal(got, h.GetSha256()) {
		return nil, badRequest("the artifact's SHA-256 is %s, but header.artifact.sha256 is %s: the upload is corrupted", hex.EncodeToString(got), hex.EncodeToString(h.GetSha256()))
	}
	return buf.Bytes(), nil
}

func (m *moduleService) Deploy(ctx context.Context, st *connect.ClientStream[squallv1.DeployRequest]) (*connect.Response[squallv1.DeployResponse], error) {
	if !st.Receive() {
		if err := st.Err(); err != nil {
			return nil, err
		}
		return nil, badRequest("the stream is empty: send a header message first, then the artifact in chunks")
	}
	h := st.Msg().GetHeader()
	if h == nil {
		return nil, badRequest("header: the first message of the stream must carry the header")
	}
	wasm, err := m.s.receiveArtifact(ctx, h.GetArtifact(), func() ([]byte, bool, bool) {
		if !st.Receive() {
			return nil, false, false
		}
		return st.Msg().GetChunk(), st.Msg().GetHeader() != nil, true
	}, st.Err)
	if err != nil {
		return nil, err
	}
	desc, err := m.s.cfg.Registry.Deploy(ctx, h.GetModule(), h.GetTasks(), wasm, h.GetValidateOnly())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.DeployResponse{Module: desc}), nil
}

func (m *moduleService) Update(ctx context.Context, st *connect.ClientStream[squallv1.UpdateRequest]) (*connect.Response[squallv1.UpdateResponse], error) {
	if !st.Receive() {
		if err := st.Err(); err != nil {
			return nil, err
		}
		return nil, badRequest("the stream is empty: send a header message first, then the artifact in chunks")
	}
	h := st.Msg().GetHeader()
	if h == nil {
		return nil, badRequest("header: the first message of the stream must carry the header")
	}
	wasm, err := m.s.receiveArtifact(ctx, h.GetArtifact(), func() ([]byte, bool, bool) {
		if !st.Receive() {
			return nil, false, false
		}
		return st.Msg().GetChunk(), st.Msg().GetHeader() != nil, true
	}, st.Err)
	if err != nil {
		return nil, err
	}
	desc, err := m.s.cfg.Registry.Update(ctx, h.GetModule(), wasm, h.GetValidateOnly())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.UpdateResponse{Module: desc}), nil
}

func (m *moduleService) List(ctx context.Context, req *connect.Request[squallv1.ListRequest]) (*connect.Response[squallv1.ListResponse], error) {
	res := &squallv1.ListResponse{}
	for _, d := range m.s.cfg.Registry.list() {
		res.Modules = append(res.Modules, apiconv.SummarizeModule(d.info))
	}
	return connect.NewResponse(res), nil
}

func (m *moduleService) Describe(ctx context.Context, req *connect.Request[squallv1.DescribeRequest]) (*connect.Response[squallv1.DescribeResponse], error) {
	d, err := m.s.cfg.Registry.get(req.Msg.GetModule())
	if err != nil {
		return nil, err
	}
	desc, err := apiconv.DescribeModule(d.def, d.info)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.DescribeResponse{Module: desc}), nil
}

func (m *moduleService) Destroy(ctx context.Context, req *connect.Request[squallv1.DestroyRequest]) (*connect.Response[squallv1.DestroyResponse], error) {
	if err := m.s.cfg.Registry.Destroy(ctx, req.Msg.GetModule()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&squallv1.DestroyResponse{}), nil
}
