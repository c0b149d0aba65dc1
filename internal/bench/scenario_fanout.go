package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/internal/resp"
)

// fanoutWork is one case of the fanout: who follows each author, and the
// posts.
type fanoutWork struct {
	followers int
	authors   []string
	follows   map[string][]string // author → followers
	posts     []Post
	// rate and latPosts are the latency run's posts per second and posts.
	rate     float64
	latPosts []Post
}

func (e *env) fanoutWork(followers, posts int, rate float64) *fanoutWork {
	r := rand.New(rand.NewPCG(3, uint64(followers)))
	w := &fanoutWork{followers: followers, follows: map[string][]string{}, rate: rate}
	for a := range e.sz.fanAuthors {
		author := fmt.Sprintf("author%03d", a)
		w.authors = append(w.authors, author)
		for _, u := range r.Perm(e.sz.fanUsers)[:followers] {
			w.follows[author] = append(w.follows[author], fmt.Sprintf("user%05d", u))
		}
	}
	for i := range posts {
		a := w.authors[i%len(w.authors)]
		w.posts = append(w.posts, Post{Author: a, ID: int64(i), Text: fmt.Sprintf("post %d of %s: some words of text", i, a)})
	}
	for i := range int(rate*e.sz.fanLatencyFor.Seconds()) + 1 {
		a := w.authors[i%len(w.authors)]
		id := len(w.posts) + i
		w.latPosts = append(w.latPosts, Post{Author: a, ID: int64(id), Text: fmt.Sprintf("post %d of %s: some words of text", id, a)})
	}
	return w
}

func (p Post) value() abi.Value {
	return abi.Map(abi.MapEntry{Key: abi.String("author"), Val: abi.String(p.Author)},
		abi.MapEntry{Key: abi.String("id"), Val: abi.Int(p.ID)},
		abi.MapEntry{Key: abi.String("text"), Val: abi.String(p.Text)})
}

func (e *env) fanoutScenario(ctx context.Context) (*ScenarioResult, error) {
	sz := e.sz
	mods, notes, err := e.examples(ctx, "social")
	if err != nil {
		return nil, err
	}
	s := &ScenarioResult{
		Name: "fanout", Title: "Social fanout", Unit: "posts/s", Notes: notes, ChartMetric: "timeline writes/s",
		Method: fmt.Sprintf("examples/social: %d authors, each followed by 100 or 1,000 of %d users (the follows are loaded before the "+
			"clock starts). Posts are ingested by %d clients in batches of %d and timed until every post is on every follower's "+
			"timeline (Squall: lag 0; pipeline: all acknowledged); post counts and timeline lengths are checked after. "+
			"The pipeline's consumer reads each author's followers from a Redis set (SMEMBERS) and RPUSHes the post to each "+
			"follower's Redis list, in pipelines, then acknowledges. A timeline write is one post on one follower's timeline. "+
			"Latency: post-to-every-timeline, open loop at %.0f posts/s (100 followers) and %.0f posts/s (1,000 followers) for %v "+
			"(Squall: `Append` with ACK, whose ack return is the number of timelines written; pipeline: the consumer's notification "+
			"after its writes returned).",
			sz.fanAuthors, sz.fanUsers, sz.ingestWorkers, batchSize, sz.fanRate[100], sz.fanRate[1000], sz.fanLatencyFor),
	}
	counts := make([]int, 0, len(sz.fanPosts))
	for f := range sz.fanPosts {
		counts = append(counts, f)
	}
	slices.Sort(counts)
	for _, f := range counts {
		w := e.fanoutWork(f, sz.fanPosts[f], sz.fanRate[f])
		c := &Case{Name: fmt.Sprintf("%d followers", f)}
		for _, m := range mods {
			row, err := e.fanoutSquall(ctx, m, w)
			if err != nil {
				return nil, fmt.Errorf("squall (%s), %d followers: %w", m.lang, f, err)
			}
			c.Rows = append(c.Rows, row)
		}
		row, err := e.fanoutPipeline(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("pipeline, %d followers: %w", f, err)
		}
		c.Rows = append(c.Rows, row)
		s.Cases = append(s.Cases, c)
	}
	return s, nil
}

func fanoutRow(system string, baseline bool, w *fanoutWork, elapsed time.Duration) *Row {
	return throughputRow(system, baseline, len(w.posts), elapsed, "timeline writes/s", w.followers)
}

func (e *env) fanoutSquall(ctx context.Context, m guestModule, w *fanoutWork) (row *Row, err error) {
	e.logf("  fanout %d: squall (%s)", w.followers, m.lang)
	sq, err := e.startSquall(ctx, m.wasm)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, sq.stop()) }()
	var follows []abi.Value
	for _, a := range w.authors {
		for _, f := range w.follows[a] {
			follows = append(follows, abi.Map(abi.MapEntry{Key: abi.String("from"), Val: abi.String(f)},
				abi.MapEntry{Key: abi.String("to"), Val: abi.String(a)}))
		}
	}
	if err := sq.load(ctx, e.sz.ingestWorkers, "social", "follows", follows); err != nil {
		return nil, fmt.Errorf("load the follows: %w", err)
	}
	posts := make([]abi.Value, len(w.posts))
	for i, p := range w.posts {
		posts[i] = p.value()
	}
	elapsed, us, err := timed([]*Proc{sq.proc}, func() error {
		return sq.load(ctx, e.sz.ingestWorkers, "social", "posts", posts)
	})
	if err != nil {
		return nil, err
	}
	total, err := sq.sumInts(ctx, "social", "$$postCounts")
	if err != nil {
		return nil, err
	}
	if total != int64(len(w.posts)) {
		return nil, fmt.Errorf("bench: squall counted %d posts, want %d", total, len(w.posts))
	}
	// Every follower of the first author has that author's posts.
	f := w.follows[w.authors[0]][0]
	n, err := sq.c.SelectOne(ctx, "social", "$$timelines", abi.P().Key(abi.String(f)).View(abi.ViewSize))
	if err != nil {
		return nil, fmt.Errorf("bench: timeline of %s: %w", f, err)
	}
	if got, _ := n.AsInt(); got < int64(len(w.posts)/len(w.authors)) {
		return nil, fmt.Errorf("bench: %s's timeline has %d posts, want at least %d", f, got, len(w.posts)/len(w.authors))
	}
	lat, err := OpenLoop(ctx, w.rate, e.sz.fanLatencyFor, 256, func(ctx context.Context, _, i int) error {
		res, err := sq.c.Append(ctx, "social", "posts", w.latPosts[i].value(), client.Ack)
		if err != nil {
			return err
		}
		if n, _ := res.AckReturns["social"].AsInt(); n != int64(w.followers) {
			return fmt.Errorf("ack return %v, want %d timelines", res.AckReturns, w.followers)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	row = fanoutRow("Squall ("+m.lang+")", false, w, elapsed)
	row.setLatency(lat)
	row.setUsage(us)
	return row, nil
}

func (e *env) fanoutPipeline(ctx context.Context, w *fanoutWork) (row *Row, err error) {
	e.logf("  fanout %d: jetstream + go consumer + redis", w.followers)
	p, err := e.startPipeline(ctx, "fanout", fanoutStream, fanoutSubject)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	rc, err := resp.Dial(ctx, p.redis.addr)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var sadds [][]string
	for _, a := range w.authors {
		sadds = append(sadds, append([]string{"SADD", followersKey(a)}, w.follows[a]...))
	}
	if _, err := rc.Pipeline(sadds); err != nil {
		return nil, fmt.Errorf("load the follows: %w", err)
	}
	payloads := make([][]byte, len(w.posts))
	for i, post := range w.posts {
		payloads[i], _ = json.Marshal(post)
	}
	elapsed, us, err := timed(p.procs(), func() error {
		return p.load(ctx, e.sz.ingestWorkers, fanoutStream, fanoutSubject, payloads)
	})
	if err != nil {
		return nil, err
	}
	var gets [][]string
	for _, a := range w.authors {
		gets = append(gets, []string{"GET", postCountKey(a)})
	}
	users := map[string]bool{}
	for _, fs := range w.follows {
		for _, f := range fs {
			users[f] = true
		}
	}
	for u := range users {
		gets = append(gets, []string{"LLEN", timelineKey(u)})
	}
	reps, err := rc.Pipeline(gets)
	if err != nil {
		return nil, err
	}
	var posts, entries int64
	for i, r := range reps {
		if i < len(w.authors) {
			n, _ := strconv.ParseInt(string(r.Str), 10, 64)
			posts += n
		} else {
			entries += r.Int
		}
	}
	if posts != int64(len(w.posts)) || entries != int64(len(w.posts)*w.followers) {
		return nil, fmt.Errorf("bench: the pipeline counted %d posts and %d timeline entries, want %d and %d", posts, entries, len(w.posts), len(w.posts)*w.followers)
	}
	lat, err := pipelineLatency(ctx, p.nats, fanoutSubject, w.rate, e.sz.fanLatencyFor, func(i int) []byte {
		b, _ := json.Marshal(w.latPosts[i])
		return b
	})
	if err != nil {
		return nil, err
	}
	row = fanoutRow("JetStream + Go consumer + Redis", true, w, elapsed)
	row.setLatency(lat)
	row.setUsage(us)
	return row, nil
}
