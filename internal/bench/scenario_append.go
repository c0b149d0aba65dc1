package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
)

// appendPayloadBytes is the size of the text of an appended record.
const appendPayloadBytes = 100

// appendRecord is the i-th record the append scenario writes, as Squall's
// Value and as the JSON JetStream carries: {"key": ..., "payload": ...}.
func appendRecord(i int) (abi.Value, []byte) {
	key := "k" + strconv.Itoa(i%4096)
	payload := strings.Repeat(string(rune('a'+i%26)), appendPayloadBytes)
	v := abi.Map(abi.MapEntry{Key: abi.String("key"), Val: abi.String(key)},
		abi.MapEntry{Key: abi.String("payload"), Val: abi.String(payload)})
	j, _ := json.Marshal(map[string]string{"key": key, "payload": payload})
	return v, j
}

func (e *env) appendScenario(ctx context.Context) (*ScenarioResult, error) {
	sz := e.sz
	s := &ScenarioResult{
		Name: "append", Title: "Durable appends", Unit: "appends/s",
		Method: fmt.Sprintf("%d concurrent appenders for %v per system, each waiting for its record to be durable "+
			"(fsynced) before the next: Squall's `Append` with APPEND_ACK through the Connect API on loopback "+
			"(module `eventlog`: one depot, no topology, 4 partitions), raw Pebble `Set` + `Commit(Sync)` "+
			"(%d writers in one process; the disk's limit), and JetStream acknowledged publishes to a file-backed stream. "+
			"Records are ~%d bytes. CPU and memory are the server processes' (the load generator's are not counted).",
			sz.appendWorkers, sz.appendFor, sz.appendWorkers, appendPayloadBytes+30),
	}
	c := &Case{}
	s.Cases = []*Case{c}

	wasm, err := e.buildModule(ctx, e.path("internal/bench/modules/eventlog"), "eventlog")
	if err != nil {
		return nil, err
	}
	row, err := e.appendSquall(ctx, wasm)
	if err != nil {
		return nil, err
	}
	c.Rows = append(c.Rows, row)
	if row, err = e.appendPebble(ctx); err != nil {
		return nil, err
	}
	c.Rows = append(c.Rows, row)
	for _, sync := range []bool{true, false} {
		if row, err = e.appendJetStream(ctx, sync); err != nil {
			return nil, err
		}
		c.Rows = append(c.Rows, row)
	}
	return s, nil
}

func (e *env) appendSquall(ctx context.Context, wasm []byte) (row *Row, err error) {
	e.logf("  append: squall")
	sq, err := e.startSquall(ctx, wasm)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, sq.stop()) }()
	recs := make([]abi.Value, 4096)
	for i := range recs {
		recs[i], _ = appendRecord(i)
	}
	return closedLoopRow(ctx, []*Proc{sq.proc}, "Squall", false, e.sz.appendWorkers, e.sz.appendFor, func(ctx context.Context, w, i int) error {
		_, err := sq.c.Append(ctx, "eventlog", "events", recs[(w*7919+i)%len(recs)], client.AckAppend)
		return err
	})
}

func (e *env) appendPebble(ctx context.Context) (row *Row, err error) {
	e.logf("  append: raw pebble")
	dir, err := e.tempDir("pebble")
	if err != nil {
		return nil, err
	}
	p, err := StartProc(ctx, ProcSpec{
		Name: "pebble writer", Path: e.cfg.Squall,
		Args: []string{"bench-peer", "pebble", "--dir", dir, "--workers", strconv.Itoa(e.sz.appendWorkers),
			"--duration", e.sz.appendFor.String(), "--value-bytes", strconv.Itoa(appendPayloadBytes + 30)},
		Ready: lineReady("ready"),
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, p.Stop()) }()
	u0, err := p.Usage()
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, e.sz.appendFor+time.Minute)
	defer cancel()
	line, err := p.WaitLine(wctx, "result ")
	if err != nil {
		return nil, err
	}
	var res PebbleResult
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "result ")), &res); err != nil {
		return nil, fmt.Errorf("bench: pebble peer's result %q: %w", line, err)
	}
	u1, err := p.Usage()
	if err != nil {
		return nil, err
	}
	smp := Sample{Ops: res.Ops, Elapsed: time.Duration(res.ElapsedNs), Lat: Latency{Count: res.Ops, P50: time.Duration(res.P50Ns), P99: time.Duration(res.P99Ns)}}
	row = sampleRow("raw Pebble Set+Sync", true, smp)
	row.setUsage([]ProcUsage{{Name: p.Name, CPUSeconds: (u1.CPU - u0.CPU).Seconds(), PeakRSSBytes: u1.PeakRSS}})
	row.Note = "in-process writers: no network, no encoding."
	return row, nil
}

func (e *env) appendJetStream(ctx context.Context, syncAlways bool) (row *Row, err error) {
	e.logf("  append: jetstream (sync always: %v)", syncAlways)
	n, err := e.startNATS(ctx, syncAlways)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, n.stop()) }()
	if err := n.createStream(ctx, "EVENTS", "events", false); err != nil {
		return nil, err
	}
	payloads := make([][]byte, 4096)
	for i := range payloads {
		_, payloads[i] = appendRecord(i)
	}
	system := "NATS JetStream (sync always)"
	if !syncAlways {
		system = "NATS JetStream (default sync)"
	}
	row, err = closedLoopRow(ctx, []*Proc{n.proc}, system, true, e.sz.appendWorkers, e.sz.appendFor, func(ctx context.Context, w, i int) error {
		_, err := n.js.Publish(ctx, "events", payloads[(w*7919+i)%len(payloads)])
		return err
	})
	if err == nil && !syncAlways {
		row.Note = "acknowledged before it is fsynced (nats-server fsyncs every 2 minutes by default): not durable on power loss, shown for scale."
	}
	return row, err
}
