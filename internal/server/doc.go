// Package server implements Squall's public API (proto/squall/v1) as
// Connect handlers over a node's engine, host runtime and module registry.
//
// [New] returns the handlers to mount on an HTTP/2 server. Every request
// and every streamed message is validated once by the protovalidate rules
// of the proto files (one interceptor), an optional bearer token is
// checked (another), and every error a handler returns is mapped to a
// Connect code in one place ([toConnect], errors.go) with a message that
// says what to fix; internal errors are logged and answered with an
// opaque Internal error, never with their raw text.
//
// The [Registry] keeps the deployed modules: it compiles an artifact,
// reads its definition, stores the artifact under the node's data
// directory and deploys it on the engine; after a restart
// [Registry.Restore] deploys every stored module again, so that the engine
// resumes their topologies from their committed progress.
package server
