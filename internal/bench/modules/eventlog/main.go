// Command eventlog is the module of the harness's append scenario: one
// depot, "events", and nothing that reads it. An append then costs what
// a durable append costs in Squall (API, validation, partitioning, the
// depot's group commit) and no processing, the same work NATS JetStream
// and raw Pebble do in that scenario.
package main

import squall "github.com/squall-run/squall/guest-sdks/go"

func init() {
	squall.Define(func(m *squall.ModuleBuilder) {
		m.Name("eventlog")
		// Partitioned by the record's "key", so concurrent appenders spread
		// over the partitions as a keyed log's producers do.
		m.Depot("events", squall.HashBy(squall.Key("key")))
	})
}

// main is not run: built with -buildmode=c-shared the module is a WASI
// reactor.
func main() {}
