// A small social network: the TypeScript twin of examples/social/go (same
// definition, same behaviour, byte for byte).
//
// Depot "follows" takes {"from", "to", "unfollow"?} records, partitioned by
// the followed user; depot "posts" takes {"author", "id", "text"},
// partitioned by author. Stream topology "social":
//   - "follow" keeps "$$followers" (a subindexed set per user) and
//     "$$followerCounts"; its ack return is the followed user's new count;
//   - "post" counts the author's posts ("$$postCounts") and hops each post
//     to every follower's partition, reading the followers in pages of
//     FollowerPage; its ack return is the number of timelines reached;
//   - "deliver" appends the post to the follower's timeline
//     ("$$timelines", a subindexed list of records).

import { defineModule, hashBy, key, PoisonError, quote, recordParser, schema as S } from "@squall/sdk";

/** A record of the depot "follows". */
export interface Follow {
  from: string;
  to: string;
  unfollow?: boolean;
}

/** A record of the depot "posts", and an entry of a timeline. */
export interface Post {
  author: string;
  id: number;
  text: string;
}

/** What "post" hops to "deliver". */
export interface Delivery {
  follower: string;
  post: Post;
}

/** How many followers "post" reads per query. */
export const FollowerPage = 256;

/** The schema of a timeline entry. */
export const TimelineEntry = S.record({ author: S.string, id: S.int, text: S.string });

/** Record parsers: absent fields are zero values (as in the Go twin); a field of another kind dead-letters the record (kind "input"). */
export const parseFollow: (v: unknown) => Follow = recordParser({ from: "string", to: "string", unfollow: "bool" });
export const parsePost: (v: unknown) => Post = recordParser({ author: "string", id: "int", text: "string" });
const deliveryFields = recordParser({ follower: "string", post: "any" });
/** The post is stored as it came (a timeline entry the post stage made). */
const parseDelivery = (v: unknown): Delivery => {
  const d = deliveryFields(v);
  return { follower: d.follower, post: d.post as unknown as Post };
};

export default defineModule("social", (m) => {
  const follows = m.depot<Follow>("follows", hashBy(key("to")));
  const posts = m.depot<Post>("posts", hashBy(key("author")));

  const followers = m.pstate<string, Set<string>>("$$followers", S.mapOf(S.string, S.setOf(S.string).subindexed()));
  const followerCounts = m.pstate<string, number>("$$followerCounts", S.mapOf(S.string, S.int));
  const postCounts = m.pstate<string, number>("$$postCounts", S.mapOf(S.string, S.int));
  const timelines = m.pstate<string, Post[]>("$$timelines", S.mapOf(S.string, S.listOf(TimelineEntry).subindexed()));

  const t = m.stream("social");

  const follow = t.stage("follow", parseFollow, (ctx, f) => {
    if (f.from === "" || f.to === "") throw new PoisonError(`a follow needs both users: from ${quote(f.from)}, to ${quote(f.to)}`);
    if (f.from === f.to) throw new PoisonError(`${quote(f.from)} cannot follow themselves`);
    // Runs on the partition of f.to, which owns f.to's followers.
    const member = ctx.selectOne(followers, key(f.to).mustKey(f.from)) !== undefined;
    if (!f.unfollow && !member) {
      ctx.transform(followers, key(f.to).append(f.from));
      ctx.transform(followerCounts, key(f.to).incr(1));
    } else if (f.unfollow && member) {
      ctx.transform(followers, key(f.to).key(f.from).remove());
      ctx.transform(followerCounts, key(f.to).incr(-1));
    }
    // A user never followed has no count: nil, read as 0.
    ctx.emit(ctx.get(followerCounts, f.to) ?? 0);
  });

  const post = t.stage("post", parsePost, (ctx, p) => {
    if (p.author === "") throw new PoisonError(`post ${p.id} has no author`);
    ctx.transform(postCounts, key(p.author).incr(1));
    const entry: Post = { author: p.author, id: p.id, text: p.text };
    // Read the followers in pages, each starting after the last one seen.
    let page = key(p.author).sortedRange(null, null, { limit: FollowerPage });
    let delivered = 0;
    for (;;) {
      const fs = ctx.select<string>(followers, page.all());
      for (const f of fs) ctx.hop(deliver, f, { follower: f, post: entry });
      delivered += fs.length;
      if (fs.length < FollowerPage) break;
      page = key(p.author).sortedRange(fs[fs.length - 1], null, { excludeFrom: true, limit: FollowerPage });
    }
    ctx.emit(delivered);
  });

  const deliver = t.stage("deliver", parseDelivery, (ctx, d) => {
    ctx.transform(timelines, key(d.follower).append(d.post));
  });

  t.source(follows, follow);
  t.source(posts, post);
});
