//! A Squall module for a small social network: the Rust twin of
//! `examples/social/go` (same definition, same behaviour, byte for byte).
//! Users follow each other and post, and every post is fanned out to the
//! timelines of its author's followers.
//!
//! Depots:
//!
//! - "follows": `{"from": follower, "to": followee}`, with `"unfollow":
//!   true` to undo a follow. It is partitioned by "to", the followee: the
//!   followers of a user are kept on that user's partition, which is where
//!   the user's posts are processed.
//! - "posts": `{"author": ..., "id": ..., "text": ...}`, partitioned by
//!   author.
//!
//! PStates (each top-level key lives on the partition that owns it):
//!
//! - "$$followers": user → the set of their followers, subindexed (one
//!   storage key per follower, so a user may have millions);
//! - "$$followerCounts": user → number of followers;
//! - "$$postCounts": user → number of posts;
//! - "$$timelines": user → the list of posts of the users they follow,
//!   `{"author", "id", "text"}`, subindexed, oldest first.
//!
//! The stream topology "social" has three stages. "follow" (source
//! "follows") adds the follower to the followee's set and counts it, once;
//! an unfollow removes it. "post" (source "posts") counts the post, then
//! reads the author's followers page by page and hops the post to each
//! follower's partition, where "deliver" appends it to the follower's
//! timeline. Posts of one author reach each timeline in the order they were
//! posted (hops between two partitions arrive in order).
//!
//! Ack returns: a follow or unfollow returns the followee's follower count
//! after it; a post returns the number of timelines it was delivered to.
//!
//! Build it to WebAssembly with
//!
//! ```text
//! cargo build --release --target wasm32-wasip1    # wasm32-wasi before Rust 1.78
//! ```

use squall::{key, ConvertError, Ctx, FromValue, Module, Partitioner, RangeOpts, Schema, Value, ValueMap};

/// A record of the depot "follows".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Follow {
    /// The follower.
    pub from: String,
    /// The followee.
    pub to: String,
    /// Undoes a follow of `to` by `from`.
    pub unfollow: bool,
}

impl From<Follow> for Value {
    /// `{"from": ..., "to": ...}`, with `"unfollow": true` for an unfollow.
    fn from(f: Follow) -> Value {
        let mut m = ValueMap::new();
        m.insert("from", f.from);
        m.insert("to", f.to);
        if f.unfollow {
            m.insert("unfollow", true);
        }
        Value::Map(m)
    }
}

impl FromValue for Follow {
    fn from_value(v: Value) -> Result<Follow, ConvertError> {
        Ok(Follow { from: v.field_as("from")?, to: v.field_as("to")?, unfollow: v.field_as("unfollow")? })
    }
}

/// A record of the depot "posts". `id` is chosen by the client (unique per
/// author, say).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Post {
    /// The author (the depot's partitioning key).
    pub author: String,
    /// The post's id.
    pub id: i64,
    /// The text.
    pub text: String,
}

impl From<Post> for Value {
    /// `{"author": ..., "id": ..., "text": ...}`: also a timeline entry.
    fn from(p: Post) -> Value {
        squall::map! { "author" => p.author, "id" => p.id, "text" => p.text }
    }
}

impl FromValue for Post {
    fn from_value(v: Value) -> Result<Post, ConvertError> {
        Ok(Post { author: v.field_as("author")?, id: v.field_as("id")?, text: v.field_as("text")? })
    }
}

/// The payload of the hop from "post" to "deliver": a post for one
/// follower's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Whose timeline.
    pub follower: String,
    /// The post.
    pub post: Post,
}

impl From<Delivery> for Value {
    /// `{"follower": ..., "post": {...}}`.
    fn from(d: Delivery) -> Value {
        squall::map! { "follower" => d.follower, "post" => d.post }
    }
}

impl FromValue for Delivery {
    fn from_value(v: Value) -> Result<Delivery, ConvertError> {
        Ok(Delivery { follower: v.field_as("follower")?, post: v.field_as("post")? })
    }
}

/// How many followers the "post" stage reads per select: a user's
/// followers are paged through, never read whole.
pub const FOLLOWER_PAGE: u32 = 256;

/// The schema of a timeline's items.
pub fn timeline_entry() -> Schema {
    Schema::record_of([("author", Schema::String), ("id", Schema::Int), ("text", Schema::String)])
}

/// Go's %q of a string, for messages identical to the Go twin's.
fn q(s: &str) -> Value {
    Value::from(s) // a string value renders quoted, as Go's %q does
}

/// Declares the module.
pub fn define(m: &mut Module) {
    m.name("social");
    let follows = m.depot_of::<Follow>("follows", Partitioner::HashBy(key("to")));
    let posts = m.depot_of::<Post>("posts", Partitioner::HashBy(key("author")));

    let followers = m.pstate("$$followers", Schema::map_of(Schema::String, Schema::set_of(Schema::String).subindexed()));
    let follower_counts = m.pstate("$$followerCounts", Schema::map_of(Schema::String, Schema::Int));
    let post_counts = m.pstate("$$postCounts", Schema::map_of(Schema::String, Schema::Int));
    let timelines = m.pstate("$$timelines", Schema::map_of(Schema::String, Schema::list_of(timeline_entry()).subindexed()));

    let mut t = m.stream("social");

    // On the followee's partition: the follower set and its count change
    // together, and only when membership changes, so a repeated follow (or
    // unfollow) counts once.
    let follow = t.stage("follow", move |ctx: &mut Ctx, f: Follow| {
        if f.from.is_empty() || f.to.is_empty() {
            return Err(squall::poison!("a follow needs both users: from {}, to {}", q(&f.from), q(&f.to)));
        }
        if f.from == f.to {
            return Err(squall::poison!("{} cannot follow themselves", q(&f.from)));
        }
        let member = ctx.select_one(&followers, key(f.to.as_str()).must_key(f.from.as_str()))?.is_some();
        if !f.unfollow && !member {
            ctx.transform(&followers, key(f.to.as_str()).append(f.from.as_str()))?;
            ctx.transform(&follower_counts, key(f.to.as_str()).incr(1))?;
        } else if f.unfollow && member {
            ctx.transform(&followers, key(f.to.as_str()).key(f.from.as_str()).remove())?;
            ctx.transform(&follower_counts, key(f.to.as_str()).incr(-1))?;
        }
        let n: i64 = ctx.select_one_as(&follower_counts, key(f.to))?.unwrap_or(0);
        ctx.emit(n)
    });

    let post = t.declare_stage::<Post>("post"); // it hops to deliver, declared below

    // On the follower's partition.
    let deliver = t.stage("deliver", move |ctx: &mut Ctx, d: Delivery| {
        ctx.transform(&timelines, key(d.follower).append(d.post))
    });

    // On the author's partition, where the depots put both the author's
    // posts and the author's followers.
    t.implement(&post, move |ctx: &mut Ctx, p: Post| {
        if p.author.is_empty() {
            return Err(squall::poison!("post {} has no author", p.id));
        }
        ctx.transform(&post_counts, key(p.author.as_str()).incr(1))?;
        // Page through the followers in order: each select reads at most
        // FOLLOWER_PAGE of them, starting after the last one seen.
        let mut page = key(p.author.as_str()).sorted_range_with((), (), RangeOpts::new().limit(FOLLOWER_PAGE));
        let mut delivered = 0;
        loop {
            let fs: Vec<String> = ctx.select_as(&followers, page.all())?;
            for f in &fs {
                ctx.hop(&deliver, f.as_str(), Delivery { follower: f.clone(), post: p.clone() })?;
            }
            delivered += fs.len();
            if fs.len() < FOLLOWER_PAGE as usize {
                break;
            }
            let last = fs[fs.len() - 1].as_str();
            page = key(p.author.as_str()).sorted_range_with(last, (), RangeOpts::new().exclude_from().limit(FOLLOWER_PAGE));
        }
        ctx.emit(delivered)
    });

    t.source(&follows, &follow);
    t.source(&posts, &post);
}

squall::module!(define);

#[cfg(test)]
mod tests;
