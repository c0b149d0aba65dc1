package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/internal/resp"
)

// The wordcount workload, as internal/e2e's benchmark: sentences of 8
// words from a vocabulary of 1,000, by 100 users.
const (
	wcWords = 8
	wcVocab = 1000
	wcUsers = 100
)

// sentences makes n sentences from a fixed seed.
func sentences(n int, seed uint64) []Sentence {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]Sentence, n)
	ws := make([]string, wcWords)
	for i := range out {
		for j := range ws {
			ws[j] = "w" + strconv.Itoa(r.IntN(wcVocab))
		}
		out[i] = Sentence{User: "user" + strconv.Itoa(i%wcUsers), Text: strings.Join(ws, " ")}
	}
	return out
}

func (s Sentence) value() abi.Value {
	return abi.Map(abi.MapEntry{Key: abi.String("user"), Val: abi.String(s.User)},
		abi.MapEntry{Key: abi.String("text"), Val: abi.String(s.Text)})
}

// batchSize is how many records one AppendBatch or one burst of
// asynchronous publishes carries while ingesting.
const batchSize = 100

// ingest runs fn over [0, n) in chunks of batchSize on workers goroutines.
func ingest(ctx context.Context, workers, n int, fn func(ctx context.Context, lo, hi int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				lo := int(next.Add(batchSize)) - batchSize
				if lo >= n {
					return
				}
				if err := fn(ctx, lo, min(lo+batchSize, n)); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// publishAll publishes payloads[lo:hi] asynchronously and waits for
// every acknowledgement.
func publishAll(ctx context.Context, js jetstream.JetStream, subject string, payloads [][]byte) error {
	futs := make([]jetstream.PubAckFuture, 0, len(payloads))
	for _, p := range payloads {
		f, err := js.PublishAsync(subject, p)
		if err != nil {
			return fmt.Errorf("bench: publish: %w", err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("bench: publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (e *env) wordcountScenario(ctx context.Context) (*ScenarioResult, error) {
	sz := e.sz
	mods, notes, err := e.examples(ctx, "wordcount")
	if err != nil {
		return nil, err
	}
	s := &ScenarioResult{
		Name: "wordcount", Title: "Word count", Unit: "events/s", Notes: notes,
		Method: fmt.Sprintf("Throughput: %d sentences (%d words each, vocabulary %d, %d users) ingested by %d clients in batches of %d "+
			"(Squall `AppendBatch` with APPEND_ACK; JetStream asynchronous publishes), timed from the first append until every word "+
			"is counted (Squall: every topology's lag is 0; pipeline: the consumer has acknowledged everything); the counts are "+
			"checked after. Latency: append-to-visible at a steady %.0f sentences/s for %v (open loop), from when an append is due "+
			"until its counts are committed and readable (Squall: `Append` with ACK; pipeline: the consumer's notification after "+
			"its Redis pipeline returned). The pipeline is JetStream (file storage, fsync always) → a Go consumer (`bench-peer consumer`: "+
			"pulls up to %d messages, one Redis pipeline of INCRBY per word, acknowledges) → Redis (append-only file, fsync always). "+
			"CPU and memory are the systems' processes', throughput phase only.",
			sz.wcEvents, wcWords, wcVocab, wcUsers, sz.ingestWorkers, batchSize, sz.wcRate, sz.wcLatencyFor, consumerBatch),
	}
	c := &Case{}
	s.Cases = []*Case{c}
	sents := sentences(sz.wcEvents, 1)
	lats := sentences(int(sz.wcRate*sz.wcLatencyFor.Seconds())+1, 2)
	for _, m := range mods {
		row, err := e.wordcountSquall(ctx, m, sents, lats)
		if err != nil {
			return nil, fmt.Errorf("squall (%s): %w", m.lang, err)
		}
		c.Rows = append(c.Rows, row)
	}
	row, err := e.wordcountPipeline(ctx, sents, lats)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	c.Rows = append(c.Rows, row)
	return s, nil
}

func (e *env) wordcountSquall(ctx context.Context, m guestModule, sents, lats []Sentence) (row *Row, err error) {
	e.logf("  wordcount: squall (%s)", m.lang)
	sq, err := e.startSquall(ctx, m.wasm)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, sq.stop()) }()
	recs := make([]abi.Value, len(sents))
	for i, s := range sents {
		recs[i] = s.value()
	}
	elapsed, us, err := timed([]*Proc{sq.proc}, func() error {
		return sq.load(ctx, e.sz.ingestWorkers, "wordcount", "sentences", recs)
	})
	if err != nil {
		return nil, err
	}
	total, err := sq.sumInts(ctx, "wordcount", "$$wordCounts")
	if err != nil {
		return nil, err
	}
	if want := int64(len(sents) * wcWords); total != want {
		return nil, fmt.Errorf("bench: squall counted %d words, want %d", total, want)
	}
	lat, err := OpenLoop(ctx, e.sz.wcRate, e.sz.wcLatencyFor, 256, func(ctx context.Context, _, i int) error {
		res, err := sq.c.Append(ctx, "wordcount", "sentences", lats[i].value(), client.Ack)
		if err != nil {
			return err
		}
		if n, _ := res.AckReturns["wordcount"].AsInt(); n != wcWords {
			return fmt.Errorf("ack return %v, want %d words", res.AckReturns, wcWords)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	row = throughputRow("Squall ("+m.lang+")", false, len(sents), elapsed, "words/s", wcWords)
	row.setLatency(lat)
	row.setUsage(us)
	return row, nil
}

// pipeline is the à la carte stack of one run: JetStream, Redis and the
// consumer.
type pipeline struct {
	nats  *natsPeer
	redis *redisPeer
	cons  *Proc
}

func (p *pipeline) procs() []*Proc { return []*Proc{p.nats.proc, p.cons, p.redis.proc} }

func (p *pipeline) stop() error {
	var errs []error
	if p.cons != nil {
		errs = append(errs, p.cons.Stop())
	}
	if p.nats != nil {
		errs = append(errs, p.nats.stop())
	}
	if p.redis != nil {
		errs = append(errs, p.redis.proc.Stop())
	}
	return errors.Join(errs...)
}

// load publishes payloads to subject from workers clients and waits until
// the consumer has acknowledged everything in stream.
func (p *pipeline) load(ctx context.Context, workers int, stream, subject string, payloads [][]byte) error {
	err := ingest(ctx, workers, len(payloads), func(ctx context.Context, lo, hi int) error {
		return publishAll(ctx, p.nats.js, subject, payloads[lo:hi])
	})
	if err != nil {
		return err
	}
	return p.nats.waitDrained(ctx, stream, p.cons)
}

// startPipeline starts Redis, JetStream with the job's stream and
// consumer, and the consumer process. On error, whatever started is
// stopped.
func (e *env) startPipeline(ctx context.Context, job, stream, subject string) (p *pipeline, err error) {
	p = &pipeline{}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.stop())
			p = nil
		}
	}()
	if p.redis, err = e.startRedis(ctx); err != nil {
		return p, err
	}
	if p.nats, err = e.startNATS(ctx, true); err != nil {
		return p, err
	}
	if err = p.nats.createStream(ctx, stream, subject, true); err != nil {
		return p, err
	}
	p.cons, err = e.startConsumer(ctx, job, p.nats, p.redis)
	return p, err
}

func (e *env) wordcountPipeline(ctx context.Context, sents, lats []Sentence) (row *Row, err error) {
	e.logf("  wordcount: jetstream + go consumer + redis")
	p, err := e.startPipeline(ctx, "wordcount", wordcountStream, wordcountSubject)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	payloads := make([][]byte, len(sents))
	for i, s := range sents {
		payloads[i], _ = json.Marshal(s)
	}
	elapsed, us, err := timed(p.procs(), func() error {
		return p.load(ctx, e.sz.ingestWorkers, wordcountStream, wordcountSubject, payloads)
	})
	if err != nil {
		return nil, err
	}
	rc, err := resp.Dial(ctx, p.redis.addr)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var gets [][]string
	for w := range wcVocab {
		gets = append(gets, []string{"GET", wordKey("w" + strconv.Itoa(w))})
	}
	reps, err := rc.Pipeline(gets)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, r := range reps {
		if !r.Null {
			n, err := strconv.ParseInt(string(r.Str), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bench: redis holds count %q", r.Str)
			}
			total += n
		}
	}
	if want := int64(len(sents) * wcWords); total != want {
		return nil, fmt.Errorf("bench: the pipeline counted %d words, want %d", total, want)
	}
	lat, err := pipelineLatency(ctx, p.nats, wordcountSubject, e.sz.wcRate, e.sz.wcLatencyFor, func(i int) []byte {
		b, _ := json.Marshal(lats[i])
		return b
	})
	if err != nil {
		return nil, err
	}
	row = throughputRow("JetStream + Go consumer + Redis", true, len(sents), elapsed, "words/s", wcWords)
	row.setLatency(lat)
	row.setUsage(us)
	return row, nil
}

// pipelineLatency publishes payload(i) at a steady rate, each asking the
// consumer to notify it once processed, and times each from when it was
// due until the notification.
func pipelineLatency(ctx context.Context, n *natsPeer, subject string, rate float64, d time.Duration, payload func(i int) []byte) (Sample, error) {
	var waiters sync.Map // notify subject → chan struct{}
	prefix := nats.NewInbox()
	sub, err := n.nc.Subscribe(prefix+".*", func(m *nats.Msg) {
		if ch, ok := waiters.LoadAndDelete(m.Subject); ok {
			close(ch.(chan struct{}))
		}
	})
	if err != nil {
		return Sample{}, fmt.Errorf("bench: subscribe to notifications: %w", err)
	}
	defer sub.Unsubscribe()
	if err := n.nc.Flush(); err != nil {
		return Sample{}, err
	}
	return OpenLoop(ctx, rate, d, 256, func(ctx context.Context, _, i int) error {
		subj := prefix + "." + strconv.Itoa(i)
		done := make(chan struct{})
		waiters.Store(subj, done)
		msg := nats.NewMsg(subject)
		msg.Data = payload(i)
		msg.Header.Set(NotifyHeader, subj)
		if _, err := n.js.PublishMsg(ctx, msg); err != nil {
			waiters.Delete(subj)
			return err
		}
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return errors.New("no notification from the consumer within a minute")
		}
	})
}
