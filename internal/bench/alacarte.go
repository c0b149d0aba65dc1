package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/squall-run/squall/internal/resp"
)

// The "à la carte" pipeline users would assemble instead of Squall: a
// JetStream stream as the log, a native Go consumer as the stream
// processor, Redis as the database. This is its consumer: it pulls
// messages, does the example's work with pipelined Redis commands, then
// acknowledges the messages (at-least-once, as Squall's topologies), and,
// for a message carrying a NotifyHeader, publishes to that subject once
// its effects are in Redis: the moment they are visible, for the
// append-to-visible latency.

// NotifyHeader names the subject to notify once a message is processed.
const NotifyHeader = "Bench-Notify"

// Stream and subject names of the pipeline.
const (
	wordcountStream  = "SENTENCES"
	wordcountSubject = "sentences"
	fanoutStream     = "POSTS"
	fanoutSubject    = "posts"
	consumerName     = "processor"
)

// consumerBatch bounds the messages processed in one Redis pipeline.
const consumerBatch = 512

// runConsumerPeer runs the pipeline's consumer for --job wordcount or
// fanout until ctx is done.
func runConsumerPeer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := peerFlags("consumer")
	job := fs.String("job", "", "wordcount or fanout")
	natsURL := fs.String("nats", "", "NATS URL (required)")
	redisAddr := fs.String("redis", "", "Redis address (required)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("bench-peer consumer: %w", err)
	}
	var stream string
	var work func(rc *resp.Conn, msgs []jetstream.Msg) error
	switch *job {
	case "wordcount":
		stream, work = wordcountStream, countWords
	case "fanout":
		stream, work = fanoutStream, fanOut
	default:
		return fmt.Errorf("bench-peer consumer: --job %q: want wordcount or fanout", *job)
	}
	if *natsURL == "" || *redisAddr == "" {
		return errors.New("bench-peer consumer: --nats and --redis are required")
	}
	nc, err := nats.Connect(*natsURL)
	if err != nil {
		return fmt.Errorf("bench-peer consumer: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("bench-peer consumer: %w", err)
	}
	rc, err := resp.Dial(ctx, *redisAddr)
	if err != nil {
		return err
	}
	defer rc.Close()
	cons, err := js.Consumer(ctx, stream, consumerName)
	if err != nil {
		return fmt.Errorf("bench-peer consumer: consumer %s of stream %s (the harness creates both): %w", consumerName, stream, err)
	}
	msgs := make(chan jetstream.Msg, 4*consumerBatch)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(2*consumerBatch))
	if err != nil {
		return fmt.Errorf("bench-peer consumer: %w", err)
	}
	defer cc.Stop()
	fmt.Fprintln(stdout, "ready")
	batch := make([]jetstream.Msg, 0, consumerBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			batch = append(batch, m)
		}
	more:
		for len(batch) < consumerBatch {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			default:
				break more
			}
		}
		if err := work(rc, batch); err != nil {
			return fmt.Errorf("bench-peer consumer: %w", err)
		}
		// The consumer acknowledges all messages up to the last one (ack
		// policy "all"): one ack per batch, as a careful user would.
		if err := batch[len(batch)-1].Ack(); err != nil {
			return fmt.Errorf("bench-peer consumer: ack: %w", err)
		}
		for _, m := range batch {
			if subj := m.Headers().Get(NotifyHeader); subj != "" {
				if err := nc.Publish(subj, nil); err != nil {
					return fmt.Errorf("bench-peer consumer: notify: %w", err)
				}
			}
		}
	}
}

// Sentence is a wordcount record, as the harness publishes and appends
// it.
type Sentence struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// Words splits text as examples/wordcount does: maximal runs of letters
// and digits, lowercased.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// wordKey is the Redis key of a word's count.
func wordKey(w string) string { return "wc:" + w }

// countWords adds each word of each sentence to its count (INCRBY per
// word, the example's Incr per word), in one pipeline.
func countWords(rc *resp.Conn, msgs []jetstream.Msg) error {
	var cmds [][]string
	for _, m := range msgs {
		var s Sentence
		if err := json.Unmarshal(m.Data(), &s); err != nil {
			return fmt.Errorf("malformed sentence %q: %w", m.Data(), err)
		}
		for _, w := range Words(s.Text) {
			cmds = append(cmds, []string{"INCRBY", wordKey(w), "1"})
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	_, err := rc.Pipeline(cmds)
	return err
}

// Post is a social record, as the harness publishes and appends it.
type Post struct {
	Author string `json:"author"`
	ID     int64  `json:"id"`
	Text   string `json:"text"`
}

// Redis keys of the fanout: the examples/social PStates.
func followersKey(u string) string { return "followers:" + u }
func timelineKey(u string) string  { return "timeline:" + u }
func postCountKey(u string) string { return "postCount:" + u }

// fanOut does what examples/social's post and deliver stages do: count
// the post, read the author's followers (a Redis set), append the post to
// each follower's timeline (a Redis list). Two pipelines per batch: the
// follower sets, then the writes.
func fanOut(rc *resp.Conn, msgs []jetstream.Msg) error {
	posts := make([]Post, len(msgs))
	reads := make([][]string, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Data(), &posts[i]); err != nil {
			return fmt.Errorf("malformed post %q: %w", m.Data(), err)
		}
		reads[i] = []string{"SMEMBERS", followersKey(posts[i].Author)}
	}
	sets, err := rc.Pipeline(reads)
	if err != nil {
		return err
	}
	var writes [][]string
	for i, p := range posts {
		entry := string(msgs[i].Data())
		writes = append(writes, []string{"INCR", postCountKey(p.Author)})
		for _, f := range sets[i].Array {
			writes = append(writes, []string{"RPUSH", timelineKey(string(f.Str)), entry})
		}
	}
	// In slices, so that a batch of posts to 1,000 followers each does
	// not hold half a million replies at once.
	for len(writes) > 0 {
		k := min(len(writes), 16384)
		if _, err := rc.Pipeline(writes[:k]); err != nil {
			return err
		}
		writes = writes[k:]
	}
	return nil
}
