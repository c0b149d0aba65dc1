// Package client is the Go client of Squall's public API: a thin,
// idiomatic wrapper over the generated Connect clients
// (api/squall/v1/squallv1connect) that takes and returns records, keys and
// PState values as [abi.Value] and paths as [abi.Path].
//
// [New] connects to a node by URL (http:// for unencrypted HTTP/2 on
// loopback and development nodes, https:// for TLS). Every method takes a
// context; the client is safe for concurrent use and keeps its
// connections open until [Client.Close].
//
// Errors from the node are [*Error] values carrying the Connect code, the
// node's message and, for an append whose processing failed, the
// [AppendFailure]. They match the sentinels with [errors.Is]:
//
//	_, err := c.SelectOne(ctx, "wordcount", "$$wordCounts", abi.P().Key(abi.String("the")))
//	switch {
//	case errors.Is(err, client.ErrNotFound): // no such module or PState
//	case errors.Is(err, client.ErrUnauthenticated): // missing or wrong token
//	}
//
// For tests, package testnode starts a real node in-process and hands out
// a Client connected to it.
package client
