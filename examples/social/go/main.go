// Command social is a Squall module for a small social network: users
// follow each other and post, and every post is fanned out to the
// timelines of its author's followers.
//
// Depots:
//
//   - "follows": {"from": follower, "to": followee}, with "unfollow": true
//     to undo a follow. It is partitioned by "to", the followee: the
//     followers of a user are kept on that user's partition, which is
//     where the user's posts are processed.
//   - "posts": {"author": ..., "id": ..., "text": ...}, partitioned by
//     author.
//
// PStates (each top-level key lives on the partition that owns it):
//
//   - "$$followers": user → the set of their followers, subindexed (one
//     storage key per follower, so a user may have millions);
//   - "$$followerCounts": user → number of followers;
//   - "$$postCounts": user → number of posts;
//   - "$$timelines": user → the list of posts of the users they follow,
//     {"author", "id", "text"}, subindexed, oldest first.
//
// The stream topology "social" has three stages. "follow" (source
// "follows") adds the follower to the followee's set and counts it, once;
// an unfollow removes it. "post" (source "posts") counts the post, then
// reads the author's followers page by page and hops the post to each
// follower's partition, where "deliver" appends it to the follower's
// timeline. Posts of one author reach each timeline in the order they were
// posted (hops between two partitions arrive in order).
//
// Ack returns: a follow or unfollow returns the followee's follower count
// after it; a post returns the number of timelines it was delivered to.
//
// Build it to WebAssembly with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o social.wasm .
package main

import (
	"errors"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// Follow is a record of the depot "follows".
type Follow struct {
	From, To string
	// Unfollow undoes a follow of To by From.
	Unfollow bool
}

// MarshalSquall stores a follow as {"from": ..., "to": ...}, with
// "unfollow": true for an unfollow.
func (f Follow) MarshalSquall() (squall.Value, error) {
	m := map[string]any{"from": f.From, "to": f.To}
	if f.Unfollow {
		m["unfollow"] = true
	}
	return squall.ValueOf(m)
}

// UnmarshalSquall reads a follow.
func (f *Follow) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"from": &f.From, "to": &f.To, "unfollow": &f.Unfollow})
}

// Post is a record of the depot "posts". ID is chosen by the client
// (unique per author, say).
type Post struct {
	Author string
	ID     int64
	Text   string
}

// MarshalSquall stores a post as {"author": ..., "id": ..., "text": ...}.
func (p Post) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"author": p.Author, "id": p.ID, "text": p.Text})
}

// UnmarshalSquall reads a post.
func (p *Post) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"author": &p.Author, "id": &p.ID, "text": &p.Text})
}

// Delivery is the payload of the hop from "post" to "deliver": a post for
// one follower's timeline. Post is the post's record, converted once for
// all its deliveries and appended to the timeline as it is.
type Delivery struct {
	Follower string
	Post     squall.Value
}

// MarshalSquall stores a delivery as {"follower": ..., "post": {...}}.
func (d Delivery) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"follower": d.Follower, "post": d.Post})
}

// UnmarshalSquall reads a delivery.
func (d *Delivery) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"follower": &d.Follower, "post": &d.Post})
}

// FollowerPage is how many followers the "post" stage reads per select:
// a user's followers are paged through, never read whole.
const FollowerPage = 256

// TimelineEntry is the schema of a timeline's items.
var TimelineEntry = squall.RecordOf(
	squall.Field("author", squall.StringT),
	squall.Field("id", squall.IntT),
	squall.Field("text", squall.StringT),
)

// Define declares the module.
func Define(m *squall.ModuleBuilder) {
	m.Name("social")
	follows := m.Depot("follows", squall.HashBy(squall.Key("to")))
	posts := m.Depot("posts", squall.HashBy(squall.Key("author")))

	followers := m.PState("$$followers", squall.MapOf(squall.StringT, squall.SetOf(squall.StringT).Subindexed()))
	followerCounts := m.PState("$$followerCounts", squall.MapOf(squall.StringT, squall.IntT))
	postCounts := m.PState("$$postCounts", squall.MapOf(squall.StringT, squall.IntT))
	timelines := m.PState("$$timelines", squall.MapOf(squall.StringT, squall.ListOf(TimelineEntry).Subindexed()))

	t := m.Stream("social")

	// On the followee's partition: the follower set and its count change
	// together, and only when membership changes, so a repeated follow
	// (or unfollow) counts once.
	follow := t.Stage("follow", squall.Typed(func(ctx *squall.Ctx, f Follow) error {
		if f.From == "" || f.To == "" {
			return squall.Poisonf("a follow needs both users: from %q, to %q", f.From, f.To)
		}
		if f.From == f.To {
			return squall.Poisonf("%q cannot follow themselves", f.From)
		}
		_, err := ctx.SelectOne(followers, squall.Key(f.To).MustKey(f.From))
		member := err == nil
		if err != nil && !errors.Is(err, squall.ErrNotFound) {
			return err
		}
		switch {
		case !f.Unfollow && !member:
			if err := ctx.Transform(followers, squall.Key(f.To).Append(f.From)); err != nil {
				return err
			}
			if err := ctx.Transform(followerCounts, squall.Key(f.To).Incr(1)); err != nil {
				return err
			}
		case f.Unfollow && member:
			if err := ctx.Transform(followers, squall.Key(f.To).Key(f.From).Remove()); err != nil {
				return err
			}
			if err := ctx.Transform(followerCounts, squall.Key(f.To).Incr(-1)); err != nil {
				return err
			}
		}
		n, err := squall.SelectOneAs[int64](ctx, followerCounts, squall.Key(f.To))
		if err != nil {
			return err
		}
		return ctx.Emit(n)
	}))

	var deliver *squall.Stage // declared below; post hops to it

	// On the author's partition, where the depots put both the author's
	// posts and the author's followers.
	post := t.Stage("post", squall.Typed(func(ctx *squall.Ctx, p Post) error {
		if p.Author == "" {
			return squall.Poisonf("post %d has no author", p.ID)
		}
		if err := ctx.Transform(postCounts, squall.Key(p.Author).Incr(1)); err != nil {
			return err
		}
		entry, err := squall.ValueOf(p) // {"author", "id", "text"}: a timeline entry
		if err != nil {
			return err
		}
		// Page through the followers in order: each select reads at most
		// FollowerPage of them, starting after the last one seen.
		page := squall.Key(p.Author).SortedRangeWith(nil, nil, squall.RangeOpts{Limit: FollowerPage})
		delivered := 0
		for {
			fs, err := squall.SelectAs[string](ctx, followers, page.All())
			if err != nil {
				return err
			}
			for _, f := range fs {
				if err := ctx.Hop(deliver, f, Delivery{Follower: f, Post: entry}); err != nil {
					return err
				}
			}
			delivered += len(fs)
			if len(fs) < FollowerPage {
				break
			}
			last := fs[len(fs)-1]
			page = squall.Key(p.Author).SortedRangeWith(last, nil, squall.RangeOpts{ExcludeFrom: true, Limit: FollowerPage})
		}
		return ctx.Emit(delivered)
	}))

	// On the follower's partition.
	deliver = t.Stage("deliver", squall.Typed(func(ctx *squall.Ctx, d Delivery) error {
		return ctx.Transform(timelines, squall.Key(d.Follower).Append(d.Post))
	}))

	t.Source(follows, follow)
	t.Source(posts, post)
}

func init() { squall.Define(Define) }

// main is not run: built with -buildmode=c-shared the module is a WASI
// reactor, and the host calls its exports.
func main() {}
