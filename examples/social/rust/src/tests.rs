//! The tests of `examples/social/go`, run natively with the SDK's harness.

use std::collections::{BTreeMap, BTreeSet};

use squall::testing::{Appended, Harness, Options};
use squall::{key, Path, Rng, Value, ViewFn};

use super::*;

fn follow(from: &str, to: &str) -> Follow {
    Follow { from: from.into(), to: to.into(), unfollow: false }
}

fn unfollow(from: &str, to: &str) -> Follow {
    Follow { from: from.into(), to: to.into(), unfollow: true }
}

fn post(author: &str, id: i64, text: &str) -> Post {
    Post { author: author.into(), id, text: text.into() }
}

fn timeline(h: &Harness, user: &str) -> Vec<Post> {
    h.select("$$timelines", key(user).all())
        .into_iter()
        .map(|v| Post::from_value(v).unwrap_or_else(|e| panic!("timeline of {}: {}", user, e)))
        .collect()
}

fn int_of(h: &Harness, pstate: &str, user: &str) -> i64 {
    h.select_one(pstate, key(user)).as_int().unwrap_or(0)
}

fn followers_of(h: &Harness, user: &str) -> Vec<String> {
    h.select("$$followers", key(user).all()).into_iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn ack(a: &Appended) -> i64 {
    match a.ack_return("social") {
        Some(Value::Int(n)) => n,
        v => panic!("{} {}: ack return {:?}", a.depot, a.record, v),
    }
}

#[test]
fn follow_unfollow() {
    let mut h = Harness::with_options(define, 4, Options::new().quiet());
    assert_eq!(ack(&h.append("follows", follow("bob", "ann"))), 1, "first follower");
    assert_eq!(ack(&h.append("follows", follow("cat", "ann"))), 2, "second follower");
    // Following twice counts once.
    assert_eq!(ack(&h.append("follows", follow("bob", "ann"))), 2, "repeated follow");
    assert_eq!(followers_of(&h, "ann"), ["bob", "cat"]);
    // Unfollowing removes once; unfollowing a user one does not follow
    // changes nothing.
    assert_eq!(ack(&h.append("follows", unfollow("bob", "ann"))), 1, "unfollow");
    assert_eq!(ack(&h.append("follows", unfollow("bob", "ann"))), 1, "repeated unfollow");
    assert_eq!(ack(&h.append("follows", unfollow("dan", "eve"))), 0, "unfollow of a non-follower");
    assert_eq!(followers_of(&h, "ann"), ["cat"]);
    assert_eq!(int_of(&h, "$$followerCounts", "ann"), 1);
    // The followers of a user live on the user's partition, with the
    // follow records.
    let owner = h.key_partition("ann");
    for p in 0..h.partitions() {
        let n = h.select_partition("$$followers", p, Path::new().must_key("ann").all()).len();
        assert_eq!(p == owner, n == 1, "partition {} (owner {}) holds {} followers of ann", p, owner, n);
        let recs = h.depot("follows", p);
        assert_eq!(p == owner, recs.len() == 5, "partition {} (owner {}) holds {} follow records", p, owner, recs.len());
    }
    assert!(h.dead_letters().is_empty(), "{:?}", h.dead_letters());

    // Nonsense follows are dead-lettered, and change nothing.
    h.append("follows", follow("ann", "ann"));
    h.append("follows", follow("", "ann"));
    let dl = h.dead_letters();
    assert_eq!(dl.len(), 2, "{:?}", dl);
    assert_eq!(dl[0].error.kind, "poison");
    assert_eq!(dl[0].error.message, "\"ann\" cannot follow themselves");
    assert_eq!(dl[1].error.message, "a follow needs both users: from \"\", to \"ann\"");
    assert_eq!(int_of(&h, "$$followerCounts", "ann"), 1);
}

#[test]
fn fanout() {
    let mut h = Harness::new(define, 4);
    for f in ["bob", "cat", "dan"] {
        h.append("follows", follow(f, "ann"));
    }
    h.append("follows", follow("ann", "bob"));
    assert_eq!(ack(&h.append("posts", post("ann", 1, "hello"))), 3);
    assert_eq!(ack(&h.append("posts", post("bob", 1, "hi ann"))), 1);
    assert_eq!(ack(&h.append("posts", post("ann", 2, "again"))), 3);
    assert_eq!(ack(&h.append("posts", post("eve", 1, "anyone?"))), 0);
    let (ann1, ann2) = (post("ann", 1, "hello"), post("ann", 2, "again"));
    let want: Vec<(&str, Vec<Post>)> = vec![
        ("bob", vec![ann1.clone(), ann2.clone()]),
        ("cat", vec![ann1.clone(), ann2.clone()]),
        ("dan", vec![ann1.clone(), ann2.clone()]),
        ("ann", vec![post("bob", 1, "hi ann")]),
        ("eve", vec![]),
    ];
    for (user, w) in want {
        assert_eq!(timeline(&h, user), w, "timeline of {}", user);
    }
    for (user, w) in [("ann", 2), ("bob", 1), ("eve", 1), ("cat", 0)] {
        assert_eq!(int_of(&h, "$$postCounts", user), w, "{} posted", user);
    }
    // After an unfollow, new posts no longer arrive; old ones stay.
    h.append("follows", unfollow("cat", "ann"));
    h.append("posts", post("ann", 3, "third"));
    assert_eq!(timeline(&h, "cat"), vec![ann1, ann2]);
    let bob = timeline(&h, "bob");
    assert_eq!(bob.len(), 3);
    assert_eq!(bob[2], post("ann", 3, "third"));
}

/// The post stage pages through followers: counts around page boundaries
/// and a user with many pages of followers.
#[test]
fn follower_paging() {
    let page = FOLLOWER_PAGE as usize;
    for n in [page - 1, page, page + 1, 1000] {
        let mut h = Harness::with_options(define, 4, Options::new().quiet());
        for i in 0..n {
            h.append("follows", follow(&format!("fan{:04}", i), "star"));
        }
        assert_eq!(ack(&h.append("posts", post("star", 7, "news"))), n as i64, "{} followers", n);
        for i in 0..n {
            let fan = format!("fan{:04}", i);
            assert_eq!(timeline(&h, &fan), vec![post("star", 7, "news")], "timeline of {}", fan);
        }
        assert_eq!(int_of(&h, "$$followerCounts", "star"), n as i64);
        assert_eq!(h.select_one("$$followers", key("star").view(ViewFn::Size)), Value::Int(n as i64));
    }
}

/// A random network of follows, unfollows and posts, checked against a
/// model: timelines, follower sets and counts, post counts, exactly. The
/// generator is the Go test's (math/rand/v2 PCG), so the network is the
/// same.
#[test]
fn random_network() {
    let mut h = Harness::with_options(define, 4, Options::new().quiet());
    let mut r = Rng::new(3, 5);
    let users: Vec<String> = (0..20).map(|i| format!("u{:02}", i)).collect();
    let mut followers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut timelines: BTreeMap<String, Vec<Post>> = BTreeMap::new();
    let mut posts: BTreeMap<String, i64> = BTreeMap::new();
    for _ in 0..600 {
        let a = users[r.below(users.len() as u64) as usize].clone();
        let b = users[r.below(users.len() as u64) as usize].clone();
        if a == b {
            continue;
        }
        let k = r.below(10);
        if k < 5 {
            h.append("follows", follow(&a, &b));
            followers.entry(b).or_default().insert(a);
        } else if k < 6 {
            h.append("follows", unfollow(&a, &b));
            followers.entry(b).or_default().remove(&a);
        } else {
            let id = {
                let n = posts.entry(a.clone()).or_insert(0);
                *n += 1;
                *n
            };
            let p = post(&a, id, &format!("{} says {}", a, r.below(1000)));
            let fs = followers.get(&a).cloned().unwrap_or_default();
            assert_eq!(ack(&h.append("posts", p.clone())), fs.len() as i64);
            for f in fs {
                timelines.entry(f).or_default().push(p.clone());
            }
        }
    }
    for u in &users {
        assert_eq!(timeline(&h, u), timelines.get(u).cloned().unwrap_or_default(), "timeline of {}", u);
        let want: Vec<String> = followers.get(u).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        assert_eq!(followers_of(&h, u), want, "followers of {}", u);
        assert_eq!(int_of(&h, "$$followerCounts", u), want.len() as i64, "{}", u);
        assert_eq!(int_of(&h, "$$postCounts", u), posts.get(u).copied().unwrap_or(0), "{}", u);
    }
    let s = h.stats();
    assert_eq!((s.dead_letters, s.retries), (0, 0), "{:?}", s);
}
