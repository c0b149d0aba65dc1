"""social: a Squall module for a small social network. Users follow each
other and post, and every post is fanned out to the timelines of its
author's followers.

Depots:

- "follows": ``{"from": follower, "to": followee}``, with ``"unfollow":
  true`` to undo a follow. It is partitioned by "to", the followee: the
  followers of a user are kept on that user's partition, which is where the
  user's posts are processed.
- "posts": ``{"author": ..., "id": ..., "text": ...}``, partitioned by
  author.

PStates (each top-level key lives on the partition that owns it):

- "$$followers": user -> the set of their followers, subindexed (one storage
  key per follower, so a user may have millions);
- "$$followerCounts": user -> number of followers;
- "$$postCounts": user -> number of posts;
- "$$timelines": user -> the list of posts of the users they follow,
  ``{"author", "id", "text"}``, subindexed, oldest first.

The stream topology "social" has three stages. "follow" (source "follows")
adds the follower to the followee's set and counts it, once; an unfollow
removes it. "post" (source "posts") counts the post, then reads the author's
followers page by page and hops the post to each follower's partition, where
"deliver" appends it to the follower's timeline. Posts of one author reach
each timeline in the order they were posted (hops between two partitions
arrive in order).

Ack returns: a follow or unfollow returns the followee's follower count after
it; a post returns the number of timelines it was delivered to.

Build it to WebAssembly with ``squall build .`` (this folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import squall
from squall import quote


@dataclass
class Follow:
    """A record of the depot "follows"; ``unfollow`` undoes a follow of
    ``to`` by ``from_`` (stored as "from")."""

    to: str = ""
    unfollow: bool = False
    from_: str = ""

    def __squall__(self) -> dict:
        d: dict = {"from": self.from_, "to": self.to}
        if self.unfollow:
            d["unfollow"] = True
        return d


def read_follow(v: Any) -> Follow:
    """Read a follow record (absent fields are empty)."""
    if not isinstance(v, dict):
        raise squall.InputError(f"squall: stage \"follow\": input: want a map, got {type(v).__name__}")
    f = Follow(to=v.get("to") or "", unfollow=v.get("unfollow") or False, from_=v.get("from") or "")
    if type(f.from_) is not str or type(f.to) is not str or type(f.unfollow) is not bool:
        raise squall.InputError(f"squall: stage \"follow\": input: {v!r} is not a follow")
    return f


@dataclass
class Post:
    """A record of the depot "posts". ``id`` is chosen by the client
    (unique per author, say)."""

    author: str = ""
    id: int = 0
    text: str = ""


# How many followers the "post" stage reads per select: a user's followers
# are paged through, never read whole.
FOLLOWER_PAGE = 256

TIMELINE_ENTRY = squall.record_of(author=squall.STRING, id=squall.INT, text=squall.STRING)

app = squall.Module("social")
follows = app.depot("follows", squall.hash_by(squall.key("to")))
posts = app.depot("posts", squall.hash_by(squall.key("author")))

followers = app.pstate("$$followers", squall.map_of(squall.STRING, squall.set_of(squall.STRING, subindexed=True)))
follower_counts = app.pstate("$$followerCounts", squall.map_of(squall.STRING, squall.INT))
post_counts = app.pstate("$$postCounts", squall.map_of(squall.STRING, squall.INT))
timelines = app.pstate("$$timelines", squall.map_of(squall.STRING, squall.list_of(TIMELINE_ENTRY, subindexed=True)))

social = app.stream("social")


@social.stage()
def follow(ctx: squall.Ctx, record: Any) -> None:
    """On the followee's partition: the follower set and its count change
    together, and only when membership changes, so a repeated follow (or
    unfollow) counts once."""
    f = read_follow(record)
    if not f.from_ or not f.to:
        raise squall.Poison(f"a follow needs both users: from {quote(f.from_)}, to {quote(f.to)}")
    if f.from_ == f.to:
        raise squall.Poison(f"{quote(f.from_)} cannot follow themselves")
    try:
        ctx.select_one(followers, squall.key(f.to).must_key(f.from_))
        member = True
    except squall.NotFound:
        member = False
    if not f.unfollow and not member:
        ctx.transform(followers, squall.key(f.to).append(f.from_))
        ctx.transform(follower_counts, squall.key(f.to).incr(1))
    elif f.unfollow and member:
        ctx.transform(followers, squall.key(f.to).key(f.from_).remove())
        ctx.transform(follower_counts, squall.key(f.to).incr(-1))
    ctx.emit(ctx.select_one(follower_counts, squall.key(f.to)) or 0)


@social.stage()
def post(ctx: squall.Ctx, p: Post) -> None:
    """On the author's partition, where the depots put both the author's
    posts and the author's followers."""
    if not p.author:
        raise squall.Poison(f"post {p.id} has no author")
    ctx.transform(post_counts, squall.key(p.author).incr(1))
    entry = {"author": p.author, "id": p.id, "text": p.text}  # a timeline entry
    # Page through the followers in order: each select reads at most
    # FOLLOWER_PAGE of them, starting after the last one seen.
    page = squall.key(p.author).sorted_range(None, None, limit=FOLLOWER_PAGE)
    delivered = 0
    while True:
        fs = ctx.select(followers, page.all())
        for f in fs:
            ctx.hop(deliver, f, {"follower": f, "post": entry})
        delivered += len(fs)
        if len(fs) < FOLLOWER_PAGE:
            break
        page = squall.key(p.author).sorted_range(fs[-1], None, exclude_from=True, limit=FOLLOWER_PAGE)
    ctx.emit(delivered)


@social.stage()
def deliver(ctx: squall.Ctx, d: dict) -> None:
    """On the follower's partition."""
    ctx.transform(timelines, squall.key(d["follower"]).append(d["post"]))


social.source(follows, follow)
social.source(posts, post)
