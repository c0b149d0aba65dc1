package e2e

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/engine"
)

// post is a post as the tests model it; it is also a timeline entry.
type post struct {
	Author string
	ID     int64
	Text   string
}

func (p post) record() abi.Value { return rec("author", p.Author, "id", p.ID, "text", p.Text) }

func followRec(from, to string) abi.Value { return rec("from", from, "to", to) }

func unfollowRec(from, to string) abi.Value {
	return rec("from", from, "to", to, "unfollow", true)
}

// parallel runs fn(i) for i in [0, n) on k goroutines.
func parallel(n, k int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// ackClients appends count records from c clients at once: every k-th
// (i%k == 0) with ACK, the others alternating APPEND_ACK and NONE.
func ackClients(count, k, c int, appendRec func(i int, ack engine.AckLevel)) {
	parallel(count, c, func(i int) {
		switch {
		case i%k == 0:
			appendRec(i, engine.AckAck)
		case i%2 == 0:
			appendRec(i, engine.AckAppendAck)
		default:
			appendRec(i, engine.AckNone)
		}
	})
}

// timelineOf reads a user's whole timeline.
func (n *node) timelineOf(user string) []post {
	n.t.Helper()
	var out []post
	for _, v := range n.sel("social", "$$timelines", abi.P().Key(abi.String(user)).All()) {
		a, _ := v.Get(abi.String("author"))
		id, _ := v.Get(abi.String("id"))
		tx, _ := v.Get(abi.String("text"))
		p := post{}
		p.Author, _ = a.AsString()
		p.ID, _ = id.AsInt()
		p.Text, _ = tx.AsString()
		out = append(out, p)
	}
	return out
}

// followersOf pages through a user's followers as a client would, page
// users at a time.
func (n *node) followersOf(user string, page int) []string {
	n.t.Helper()
	var out []string
	from, opts := abi.Nil(), abi.RangeOpts{Limit: page}
	for {
		vs := n.sel("social", "$$followers", abi.P().Key(abi.String(user)).SortedRange(from, abi.Nil(), opts).All())
		for _, v := range vs {
			s, _ := v.AsString()
			out = append(out, s)
		}
		if len(vs) < page {
			return out
		}
		from, opts.ExcludeFrom = vs[len(vs)-1], true
	}
}

// network is the social graph the test builds, and its model.
type network struct {
	followers map[string]map[string]bool   // followee -> followers
	posts     map[string][]post            // author -> posts, in order
	timelines map[string]map[string][]post // user -> author -> posts received
}

func newNetwork() *network {
	return &network{followers: map[string]map[string]bool{}, posts: map[string][]post{}, timelines: map[string]map[string][]post{}}
}

// post records p, delivered to the author's followers of the moment.
func (w *network) post(p post) {
	w.posts[p.Author] = append(w.posts[p.Author], p)
	for f := range w.followers[p.Author] {
		if w.timelines[f] == nil {
			w.timelines[f] = map[string][]post{}
		}
		w.timelines[f][p.Author] = append(w.timelines[f][p.Author], p)
	}
}

func (w *network) follow(from, to string) {
	if w.followers[to] == nil {
		w.followers[to] = map[string]bool{}
	}
	w.followers[to][from] = true
}

// TestSocial runs examples/social/go, built to wasm from source, through
// the engine over Pebble: a random network of 40 users and a star with
// 1,040 followers, follows from several clients with every ack level and
// posts with ACK (their fanout as ack return), then every timeline, follower set, follower count and post count compared
// exactly with the model; then unfollows, and posts that no longer reach
// the unfollowers.
func TestSocial(t *testing.T) {
	wasm := moduleWasm(t, socialSrc)
	n := newNode(t, fastConfig())
	def := n.deployWasm("social", wasm)
	if want := socialDef(); !abi.Equal(def.Value(), want.Value()) {
		t.Fatalf("examples/social/go declares\n%v\nand its native mirror\n%v", def.Value(), want.Value())
	}
	w, users := socialWorkload(t, n, 5)
	checkNetwork(t, n, w, users)

	// Unfollows: half the star's fans and a few others; the next posts do
	// not reach them, and what they received stays.
	var unf [][2]string
	for i := 0; i < 1000; i += 2 {
		unf = append(unf, [2]string{fmt.Sprintf("fan%04d", i), "star"})
	}
	for to, fs := range w.followers {
		if to != "star" {
			for from := range fs {
				if len(unf) < 560 {
					unf = append(unf, [2]string{from, to})
				}
			}
		}
	}
	ackClients(len(unf), 2, 8, func(i int, ack engine.AckLevel) {
		if _, err := n.tryAppend("social", "follows", unfollowRec(unf[i][0], unf[i][1]), ack); err != nil {
			t.Error(err)
		}
	})
	n.waitIdle("social", time.Minute)
	before := map[string][]post{}
	for _, u := range users {
		before[u] = n.timelineOf(u)
	}
	for _, f := range unf {
		delete(w.followers[f[1]], f[0])
	}
	authors := append([]string{"star"}, users[:10]...)
	parallel(len(authors), len(authors), func(i int) {
		a := authors[i]
		p := post{Author: a, ID: 1000, Text: a + " after the unfollows"}
		res, err := n.tryAppend("social", "posts", p.record(), engine.AckAck)
		if err != nil {
			t.Error(err)
			return
		}
		if got := res.AckReturns["social"]; !abi.Equal(got, abi.Int(int64(len(w.followers[a])))) {
			t.Errorf("%s's post reached %v timelines, want %d", a, got, len(w.followers[a]))
		}
	})
	for _, a := range authors {
		w.post(post{Author: a, ID: 1000, Text: a + " after the unfollows"})
	}
	for _, f := range unf {
		tl := n.timelineOf(f[0])
		if got := byAuthor(tl)[f[1]]; len(got) > 0 && got[len(got)-1].ID == 1000 {
			t.Errorf("%s unfollowed %s and still got its post", f[0], f[1])
		}
		if !slices.Equal(tl[:len(before[f[0]])], before[f[0]]) {
			t.Errorf("%s's timeline changed before the unfollow", f[0])
		}
	}
	checkNetwork(t, n, w, users)
}

// socialWorkload builds a network on n through the wasm or native module:
// users u00..u39 who follow about 10 others each, and a star followed by
// fan0000..fan0999 and by everyone; follows from 8 clients at once with
// every ack level, then posts perPost per user and 3 by the star, one
// client per author (so that each author's posts are appended in order),
// each ACK returning its fanout. It returns the model and every user.
func socialWorkload(t *testing.T, n *node, perUser int) (*network, []string) {
	r := rand.New(rand.NewPCG(5, 8))
	w := newNetwork()
	var users []string
	for i := range 40 {
		users = append(users, fmt.Sprintf("u%02d", i))
	}
	var follows [][2]string
	for _, u := range users {
		for range 10 {
			if v := users[r.IntN(len(users))]; v != u {
				follows = append(follows, [2]string{u, v}) // repeats count once
			}
		}
		follows = append(follows, [2]string{u, "star"})
	}
	for i := range 1000 {
		follows = append(follows, [2]string{fmt.Sprintf("fan%04d", i), "star"})
	}
	r.Shuffle(len(follows), func(i, j int) { follows[i], follows[j] = follows[j], follows[i] })
	// From 8 clients at once, a third with ACK.
	ackClients(len(follows), 3, 8, func(i int, ack engine.AckLevel) {
		f := follows[i]
		if _, err := n.tryAppend("social", "follows", followRec(f[0], f[1]), ack); err != nil {
			t.Errorf("follow %v with %s: %v", f, ack, err)
		}
	})
	for _, f := range follows {
		w.follow(f[0], f[1])
	}
	n.waitIdle("social", time.Minute)

	// Posts with ACK from 8 clients at once, each author's in order from
	// one client.
	authors := append([]string{"star"}, users...)
	parallel(len(authors), 8, func(i int) {
		a := authors[i]
		k := perUser
		if a == "star" {
			k = 3
		}
		for j := range k {
			p := post{Author: a, ID: int64(j + 1), Text: fmt.Sprintf("post %d of %s", j+1, a)}
			res, err := n.tryAppend("social", "posts", p.record(), engine.AckAck)
			if err != nil {
				t.Errorf("post %v: %v", p, err)
				continue
			}
			if got := res.AckReturns["social"]; !abi.Equal(got, abi.Int(int64(len(w.followers[a])))) {
				t.Errorf("%s's post %d reached %v timelines, want %d", a, p.ID, got, len(w.followers[a]))
			}
		}
	})
	for _, a := range authors {
		k := perUser
		if a == "star" {
			k = 3
		}
		for j := range k {
			w.post(post{Author: a, ID: int64(j + 1), Text: fmt.Sprintf("post %d of %s", j+1, a)})
		}
	}
	for i := range 1000 {
		users = append(users, fmt.Sprintf("fan%04d", i))
	}
	return w, append(users, "star")
}

func byAuthor(tl []post) map[string][]post {
	m := map[string][]post{}
	for _, p := range tl {
		m[p.Author] = append(m[p.Author], p)
	}
	return m
}

// checkNetwork compares the module's PStates with the model: each
// timeline holds exactly the posts of the authors the user followed when
// they posted, each author's in order; follower sets (paged), sizes and
// counts and post counts are exact.
func checkNetwork(t *testing.T, n *node, w *network, users []string) {
	t.Helper()
	bad := 0
	for _, u := range users {
		got := byAuthor(n.timelineOf(u))
		want := w.timelines[u]
		if want == nil {
			want = map[string][]post{}
		}
		if !maps.EqualFunc(got, want, slices.Equal[[]post]) {
			if bad++; bad <= 5 {
				t.Errorf("timeline of %s by author:\n got %v\nwant %v", u, got, want)
			}
		}
		fs := slices.Sorted(maps.Keys(w.followers[u]))
		if got := n.followersOf(u, 100); !slices.Equal(got, fs) {
			t.Errorf("followers of %s: %d %q, want %d", u, len(got), got, len(fs))
		}
		if got := n.selInt("social", "$$followerCounts", abi.P().Key(abi.String(u))); got != int64(len(fs)) {
			t.Errorf("follower count of %s: %d, want %d", u, got, len(fs))
		}
		if got := n.selInt("social", "$$followers", abi.P().Key(abi.String(u)).View(abi.ViewSize)); got != int64(len(fs)) {
			t.Errorf("follower set size of %s: %d, want %d", u, got, len(fs))
		}
		if got := n.selInt("social", "$$postCounts", abi.P().Key(abi.String(u))); got != int64(len(w.posts[u])) {
			t.Errorf("post count of %s: %d, want %d", u, got, len(w.posts[u]))
		}
	}
	if bad > 5 {
		t.Errorf("... %d timelines differ", bad)
	}
	if dl := n.deadLetters("social"); len(dl) != 0 {
		t.Errorf("dead letters: %+v", dl)
	}
}

// TestSocialNativeMatchesWasm holds the benchmarks' native stages to the
// example: the same workload gives the same PStates, and the same bad
// records the same dead letters.
func TestSocialNativeMatchesWasm(t *testing.T) {
	wasm := moduleWasm(t, socialSrc)
	bad := []struct {
		depot string
		rec   abi.Value
	}{
		{"follows", followRec("ann", "ann")},
		{"follows", rec("to", "ann")},
		{"follows", rec("from", "bob", "to", "ann", "unfollow", 1)},
		{"posts", rec("author", "", "id", 9, "text", "x")},
		{"posts", rec("author", "ann", "id", "nine", "text", "x")},
	}
	run := func(n *node) (dead []string) {
		w, users := socialWorkload(t, n, 2)
		checkNetwork(t, n, w, users)
		for _, b := range bad {
			_, err := n.tryAppend("social", b.depot, b.rec, engine.AckAck)
			var perr *engine.ProcessingError
			if !errors.As(err, &perr) {
				t.Errorf("%s %v: %v, want a processing error", b.depot, b.rec, err)
			}
		}
		n.waitIdle("social", time.Minute)
		for _, dl := range n.deadLetters("social") {
			dead = append(dead, fmt.Sprintf("%s %s %v", dl.Stage, dl.Reason, dl.Payload))
		}
		return sorted(dead)
	}
	nw := newNode(t, fastConfig())
	nw.deployWasm("social", wasm)
	wd := run(nw)
	nn := newNode(t, fastConfig())
	nn.deployNative(socialNative())
	nd := run(nn)
	if !slices.Equal(wd, nd) || len(wd) != len(bad) {
		t.Errorf("dead letters differ:\nwasm   %q\nnative %q", wd, nd)
	}
}
