package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/squalltest"
)

// entry is a timeline entry as the tests compare them.
type entry struct {
	Author string
	ID     int64
	Text   string
}

func (e *entry) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"author": &e.Author, "id": &e.ID, "text": &e.Text})
}

func timeline(t *testing.T, h *squalltest.Harness, user string) []entry {
	t.Helper()
	var out []entry
	for _, v := range h.Select("$$timelines", squall.Key(user).All()) {
		var e entry
		if err := squall.Unmarshal(v, &e); err != nil {
			t.Fatalf("timeline of %s: %v", user, err)
		}
		out = append(out, e)
	}
	return out
}

func intOf(h *squalltest.Harness, pstate, user string) int64 {
	n, _ := h.SelectOne(pstate, squall.Key(user)).AsInt()
	return n
}

func followersOf(h *squalltest.Harness, user string) []string {
	var out []string
	for _, v := range h.Select("$$followers", squall.Key(user).All()) {
		s, _ := v.AsString()
		out = append(out, s)
	}
	return out
}

func ack(t *testing.T, a *squalltest.Appended) int64 {
	t.Helper()
	v, ok := a.AckReturn("social")
	n, isInt := v.AsInt()
	if !ok || !isInt {
		t.Fatalf("%s %v: ack return %v (%v)", a.Depot, a.Record, v, ok)
	}
	return n
}

func TestFollowUnfollow(t *testing.T) {
	h := squalltest.New(t, 4, squalltest.Quiet())
	if n := ack(t, h.Append("follows", Follow{From: "bob", To: "ann"})); n != 1 {
		t.Errorf("first follower: ack %d", n)
	}
	if n := ack(t, h.Append("follows", Follow{From: "cat", To: "ann"})); n != 2 {
		t.Errorf("second follower: ack %d", n)
	}
	// Following twice counts once.
	if n := ack(t, h.Append("follows", Follow{From: "bob", To: "ann"})); n != 2 {
		t.Errorf("repeated follow: ack %d", n)
	}
	if got := followersOf(h, "ann"); !slices.Equal(got, []string{"bob", "cat"}) {
		t.Errorf("followers of ann %q", got)
	}
	// Unfollowing removes once; unfollowing a user one does not follow
	// changes nothing.
	if n := ack(t, h.Append("follows", Follow{From: "bob", To: "ann", Unfollow: true})); n != 1 {
		t.Errorf("unfollow: ack %d", n)
	}
	if n := ack(t, h.Append("follows", Follow{From: "bob", To: "ann", Unfollow: true})); n != 1 {
		t.Errorf("repeated unfollow: ack %d", n)
	}
	if n := ack(t, h.Append("follows", Follow{From: "dan", To: "eve", Unfollow: true})); n != 0 {
		t.Errorf("unfollow of a non-follower: ack %d", n)
	}
	if got := followersOf(h, "ann"); !slices.Equal(got, []string{"cat"}) {
		t.Errorf("followers of ann %q", got)
	}
	if n := intOf(h, "$$followerCounts", "ann"); n != 1 {
		t.Errorf("ann has %d followers", n)
	}
	// The followers of a user live on the user's partition, with the
	// follow records.
	owner := h.KeyPartition("ann")
	for p := range h.Partitions() {
		n := len(h.SelectPartition("$$followers", p, squall.P().MustKey("ann").All()))
		if (p == owner) != (n == 1) {
			t.Errorf("partition %d (owner %d) holds %d followers of ann", p, owner, n)
		}
		if recs := h.Depot("follows", p); (p == owner) != (len(recs) == 5) {
			t.Errorf("partition %d (owner %d) holds %d follow records", p, owner, len(recs))
		}
	}
	if dl := h.DeadLetters(); len(dl) != 0 {
		t.Errorf("dead letters %+v", dl)
	}

	// Nonsense follows are dead-lettered, and change nothing.
	h.Append("follows", Follow{From: "ann", To: "ann"})
	h.Append("follows", Follow{From: "", To: "ann"})
	dl := h.DeadLetters()
	if len(dl) != 2 || dl[0].Error.Kind != "poison" || !strings.Contains(dl[0].Error.Message, "cannot follow themselves") ||
		!strings.Contains(dl[1].Error.Message, "needs both users") {
		t.Errorf("dead letters %+v", dl)
	}
	if n := intOf(h, "$$followerCounts", "ann"); n != 1 {
		t.Errorf("ann has %d followers", n)
	}
}

func TestFanout(t *testing.T) {
	h := squalltest.New(t, 4)
	for _, f := range []string{"bob", "cat", "dan"} {
		h.Append("follows", Follow{From: f, To: "ann"})
	}
	h.Append("follows", Follow{From: "ann", To: "bob"})
	if n := ack(t, h.Append("posts", Post{Author: "ann", ID: 1, Text: "hello"})); n != 3 {
		t.Errorf("post 1 delivered to %d timelines", n)
	}
	if n := ack(t, h.Append("posts", Post{Author: "bob", ID: 1, Text: "hi ann"})); n != 1 {
		t.Errorf("bob's post delivered to %d timelines", n)
	}
	if n := ack(t, h.Append("posts", Post{Author: "ann", ID: 2, Text: "again"})); n != 3 {
		t.Errorf("post 2 delivered to %d timelines", n)
	}
	if n := ack(t, h.Append("posts", Post{Author: "eve", ID: 1, Text: "anyone?"})); n != 0 {
		t.Errorf("eve's post delivered to %d timelines", n)
	}
	ann1, ann2 := entry{"ann", 1, "hello"}, entry{"ann", 2, "again"}
	for user, want := range map[string][]entry{
		"bob": {ann1, ann2},
		"cat": {ann1, ann2},
		"dan": {ann1, ann2},
		"ann": {{"bob", 1, "hi ann"}},
		"eve": nil,
	} {
		if got := timeline(t, h, user); !slices.Equal(got, want) {
			t.Errorf("timeline of %s: %v, want %v", user, got, want)
		}
	}
	for user, want := range map[string]int64{"ann": 2, "bob": 1, "eve": 1, "cat": 0} {
		if n := intOf(h, "$$postCounts", user); n != want {
			t.Errorf("%s posted %d, want %d", user, n, want)
		}
	}
	// After an unfollow, new posts no longer arrive; old ones stay.
	h.Append("follows", Follow{From: "cat", To: "ann", Unfollow: true})
	h.Append("posts", Post{Author: "ann", ID: 3, Text: "third"})
	if got := timeline(t, h, "cat"); !slices.Equal(got, []entry{ann1, ann2}) {
		t.Errorf("timeline of cat after unfollowing: %v", got)
	}
	if got := timeline(t, h, "bob"); len(got) != 3 || got[2] != (entry{"ann", 3, "third"}) {
		t.Errorf("timeline of bob: %v", got)
	}
}

// The post stage pages through followers: counts around page boundaries
// and a user with many pages of followers.
func TestFollowerPaging(t *testing.T) {
	for _, n := range []int{FollowerPage - 1, FollowerPage, FollowerPage + 1, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := squalltest.New(t, 4)
			for i := range n {
				h.Append("follows", Follow{From: fmt.Sprintf("fan%04d", i), To: "star"})
			}
			if got := ack(t, h.Append("posts", Post{Author: "star", ID: 7, Text: "news"})); got != int64(n) {
				t.Fatalf("delivered to %d timelines, want %d", got, n)
			}
			for i := range n {
				fan := fmt.Sprintf("fan%04d", i)
				if got := timeline(t, h, fan); len(got) != 1 || got[0] != (entry{"star", 7, "news"}) {
					t.Fatalf("timeline of %s: %v", fan, got)
				}
			}
			if c := intOf(h, "$$followerCounts", "star"); c != int64(n) {
				t.Errorf("follower count %d", c)
			}
			if s, _ := h.SelectOne("$$followers", squall.Key("star").View(squall.ViewSize)).AsInt(); s != int64(n) {
				t.Errorf("follower set size %d", s)
			}
		})
	}
}

// A random network of follows, unfollows and posts, checked against a
// model: timelines, follower sets and counts, post counts, exactly.
func TestRandomNetwork(t *testing.T) {
	h := squalltest.New(t, 4)
	r := rand.New(rand.NewPCG(3, 5))
	users := make([]string, 20)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	followers := map[string]map[string]bool{}
	timelines := map[string][]entry{}
	posts := map[string]int64{}
	for range 600 {
		a, b := users[r.IntN(len(users))], users[r.IntN(len(users))]
		if a == b {
			continue
		}
		switch k := r.IntN(10); {
		case k < 5:
			h.Append("follows", Follow{From: a, To: b})
			if followers[b] == nil {
				followers[b] = map[string]bool{}
			}
			followers[b][a] = true
		case k < 6:
			h.Append("follows", Follow{From: a, To: b, Unfollow: true})
			delete(followers[b], a)
		default:
			posts[a]++
			p := Post{Author: a, ID: posts[a], Text: fmt.Sprintf("%s says %d", a, r.IntN(1000))}
			if n := ack(t, h.Append("posts", p)); n != int64(len(followers[a])) {
				t.Fatalf("post delivered to %d, want %d", n, len(followers[a]))
			}
			for f := range followers[a] {
				timelines[f] = append(timelines[f], entry(p))
			}
		}
	}
	for _, u := range users {
		if got := timeline(t, h, u); !slices.Equal(got, timelines[u]) {
			t.Errorf("timeline of %s:\n got %v\nwant %v", u, got, timelines[u])
		}
		var want []string
		for f := range followers[u] {
			want = append(want, f)
		}
		slices.Sort(want)
		if got := followersOf(h, u); !slices.Equal(got, want) {
			t.Errorf("followers of %s: %q, want %q", u, got, want)
		}
		if n := intOf(h, "$$followerCounts", u); n != int64(len(want)) {
			t.Errorf("%s: follower count %d, want %d", u, n, len(want))
		}
		if n := intOf(h, "$$postCounts", u); n != posts[u] {
			t.Errorf("%s: post count %d, want %d", u, n, posts[u])
		}
	}
	if s := h.Stats(); s.DeadLetters != 0 || s.Retries != 0 {
		t.Errorf("stats %+v", s)
	}
}
