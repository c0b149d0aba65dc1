package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/squall-run/squall/abi"
)

// queryWord is the query scenario's k-th word; every word's count is 1.
func queryWord(k int) string { return fmt.Sprintf("q%05d", k) }

// queryKey spreads the workers' reads over the keys (and so over the
// partitions).
func queryKey(w, i, keys int) int { return (w*7919 + i*104729) % keys }

func (e *env) queryScenario(ctx context.Context) (*ScenarioResult, error) {
	sz := e.sz
	s := &ScenarioResult{
		Name: "query", Title: "Point queries", Unit: "queries/s",
		Method: fmt.Sprintf("%d words counted once each (Squall: appended to examples/wordcount/go and processed; Redis: SET), "+
			"then %d concurrent clients for %v read one word's count at a time: Squall `SelectOne` of `key(word)` on `$$wordCounts` "+
			"through the Connect API (one HTTP/2 connection, as one service holds a client), Redis GET (a connection per client). "+
			"Each reply is checked.", sz.queryKeys, sz.queryWorkers, sz.queryFor),
	}
	c := &Case{}
	s.Cases = []*Case{c}
	wasm, err := e.buildModule(ctx, e.path("examples/wordcount/go"), "wordcount-go")
	if err != nil {
		return nil, err
	}
	row, err := e.querySquall(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("squall: %w", err)
	}
	c.Rows = append(c.Rows, row)
	if row, err = e.queryRedis(ctx); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	c.Rows = append(c.Rows, row)
	return s, nil
}

func (e *env) querySquall(ctx context.Context, wasm []byte) (row *Row, err error) {
	e.logf("  query: squall")
	sq, err := e.startSquall(ctx, wasm)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, sq.stop()) }()
	keys := e.sz.queryKeys
	var recs []abi.Value
	for k := 0; k < keys; k += wcWords {
		var ws []string
		for j := k; j < min(k+wcWords, keys); j++ {
			ws = append(ws, queryWord(j))
		}
		recs = append(recs, Sentence{User: "user" + strconv.Itoa(k), Text: strings.Join(ws, " ")}.value())
	}
	if err := sq.load(ctx, e.sz.ingestWorkers, "wordcount", "sentences", recs); err != nil {
		return nil, fmt.Errorf("load the counts: %w", err)
	}
	paths := make([]abi.Path, keys)
	for k := range paths {
		paths[k] = abi.P().Key(abi.String(queryWord(k)))
	}
	return closedLoopRow(ctx, []*Proc{sq.proc}, "Squall SelectOne", false, e.sz.queryWorkers, e.sz.queryFor, func(ctx context.Context, w, i int) error {
		k := queryKey(w, i, keys)
		v, err := sq.c.SelectOne(ctx, "wordcount", "$$wordCounts", paths[k])
		if err != nil {
			return err
		}
		if n, ok := v.AsInt(); !ok || n != 1 {
			return fmt.Errorf("count of %s is %v, want 1", queryWord(k), v)
		}
		return nil
	})
}

func (e *env) queryRedis(ctx context.Context) (row *Row, err error) {
	e.logf("  query: redis")
	r, err := e.startRedis(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, r.proc.Stop()) }()
	keys := e.sz.queryKeys
	conns, err := r.conns(ctx, e.sz.queryWorkers)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	var sets [][]string
	for k := range keys {
		sets = append(sets, []string{"SET", wordKey(queryWord(k)), "1"})
	}
	if _, err := conns[0].Pipeline(sets); err != nil {
		return nil, fmt.Errorf("load the counts: %w", err)
	}
	return closedLoopRow(ctx, []*Proc{r.proc}, "Redis GET", true, e.sz.queryWorkers, e.sz.queryFor, func(_ context.Context, w, i int) error {
		k := queryKey(w, i, keys)
		v, err := conns[w].Do("GET", wordKey(queryWord(k)))
		if err != nil {
			return err
		}
		if string(v.Str) != "1" {
			return fmt.Errorf("GET %s = %q, want 1", queryWord(k), v.Str)
		}
		return nil
	})
}
