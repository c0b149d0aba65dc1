"""Tests of the social module, run natively with squall.testing."""

import random

import pytest

import squall
from squall.testing import Harness

import main
from main import Follow, Post


def follow(frm: str, to: str, unfollow: bool = False) -> Follow:
    return Follow(to=to, unfollow=unfollow, from_=frm)


def timeline(h: Harness, user: str) -> list:
    return [(e["author"], e["id"], e["text"]) for e in h.select("$$timelines", squall.key(user).all())]


def int_of(h: Harness, pstate: str, user: str) -> int:
    return h.select_one(pstate, squall.key(user)) or 0


def followers_of(h: Harness, user: str) -> list:
    return h.select("$$followers", squall.key(user).all())


def ack(a) -> int:
    n = a.ack_return("social")
    assert type(n) is int, f"{a.depot} {a.record}: ack return {n!r}"
    return n


def test_follow_unfollow():
    h = Harness(main.app, 4, quiet=True)
    assert ack(h.append("follows", follow("bob", "ann"))) == 1
    assert ack(h.append("follows", follow("cat", "ann"))) == 2
    assert ack(h.append("follows", follow("bob", "ann"))) == 2  # following twice counts once
    assert followers_of(h, "ann") == ["bob", "cat"]
    assert ack(h.append("follows", follow("bob", "ann", True))) == 1
    assert ack(h.append("follows", follow("bob", "ann", True))) == 1
    assert ack(h.append("follows", follow("dan", "eve", True))) == 0
    assert followers_of(h, "ann") == ["cat"]
    assert int_of(h, "$$followerCounts", "ann") == 1
    # The followers of a user live on the user's partition, with the follow
    # records.
    owner = h.key_partition("ann")
    for p in range(h.partitions):
        n = len(h.select_partition("$$followers", p, squall.path().must_key("ann").all()))
        assert (p == owner) == (n == 1)
        assert (p == owner) == (len(h.depot("follows", p)) == 5)
    assert h.dead_letters == []
    # Nonsense follows are dead-lettered, and change nothing.
    h.append("follows", follow("ann", "ann"))
    h.append("follows", follow("", "ann"))
    dl = h.dead_letters
    assert [(d.error.kind, d.error.message) for d in dl] == [
        ("poison", '"ann" cannot follow themselves'),
        ("poison", 'a follow needs both users: from "", to "ann"'),
    ]
    assert int_of(h, "$$followerCounts", "ann") == 1


def test_fanout():
    h = Harness(main.app, 4)
    for f in ("bob", "cat", "dan"):
        h.append("follows", follow(f, "ann"))
    h.append("follows", follow("ann", "bob"))
    assert ack(h.append("posts", Post("ann", 1, "hello"))) == 3
    assert ack(h.append("posts", Post("bob", 1, "hi ann"))) == 1
    assert ack(h.append("posts", Post("ann", 2, "again"))) == 3
    assert ack(h.append("posts", Post("eve", 1, "anyone?"))) == 0
    ann1, ann2 = ("ann", 1, "hello"), ("ann", 2, "again")
    for user, want in {"bob": [ann1, ann2], "cat": [ann1, ann2], "dan": [ann1, ann2],
                       "ann": [("bob", 1, "hi ann")], "eve": []}.items():
        assert timeline(h, user) == want, user
    for user, want in {"ann": 2, "bob": 1, "eve": 1, "cat": 0}.items():
        assert int_of(h, "$$postCounts", user) == want, user
    # After an unfollow, new posts no longer arrive; old ones stay.
    h.append("follows", follow("cat", "ann", True))
    h.append("posts", Post("ann", 3, "third"))
    assert timeline(h, "cat") == [ann1, ann2]
    assert timeline(h, "bob") == [ann1, ann2, ("ann", 3, "third")]


@pytest.mark.parametrize("n", [main.FOLLOWER_PAGE - 1, main.FOLLOWER_PAGE, main.FOLLOWER_PAGE + 1, 600])
def test_follower_paging(n):
    h = Harness(main.app, 4, batch_size=64)
    for i in range(n):
        h.append("follows", follow(f"fan{i:04d}", "star"))
    assert ack(h.append("posts", Post("star", 7, "news"))) == n
    for i in range(n):
        assert timeline(h, f"fan{i:04d}") == [("star", 7, "news")]
    assert int_of(h, "$$followerCounts", "star") == n
    assert h.select_one("$$followers", squall.key("star").view("size")) == n


def test_random_network():
    """A random network of follows, unfollows and posts, checked against a
    model: timelines, follower sets and counts, post counts, exactly."""
    h = Harness(main.app, 4)
    r = random.Random(35)
    users = [f"u{i:02d}" for i in range(20)]
    followers: dict = {}
    timelines: dict = {}
    posts: dict = {}
    for _ in range(400):
        a, b = r.choice(users), r.choice(users)
        if a == b:
            continue
        k = r.randrange(10)
        if k < 5:
            h.append("follows", follow(a, b))
            followers.setdefault(b, set()).add(a)
        elif k < 6:
            h.append("follows", follow(a, b, True))
            followers.get(b, set()).discard(a)
        else:
            posts[a] = posts.get(a, 0) + 1
            p = Post(a, posts[a], f"{a} says {r.randrange(1000)}")
            assert ack(h.append("posts", p)) == len(followers.get(a, ()))
            for f in followers.get(a, ()):
                timelines.setdefault(f, []).append((p.author, p.id, p.text))
    for u in users:
        assert timeline(h, u) == timelines.get(u, []), u
        want = sorted(followers.get(u, ()))
        assert followers_of(h, u) == want, u
        assert int_of(h, "$$followerCounts", u) == len(want)
        assert int_of(h, "$$postCounts", u) == posts.get(u, 0)
    assert h.stats.dead_letters == 0 and h.stats.retries == 0
