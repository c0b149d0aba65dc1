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

import { defineModule, hashBy, key, kindOf, PoisonError, quote, schema as S, type Value } from "@squall/sdk";

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

// Field readers: absent (nil) fields are zero values, as in the Go twin;
// a field of another kind poisons the record.
function fields(r: unknown, what: string): Record<string, unknown> {
  if (r === null || typeof r !== "object" || Array.isArray(r) || r instanceof Uint8Array) {
    throw new PoisonError(`${what} is a map, not ${kindOf(r)}`);
  }
  return r as Record<string, unknown>;
}
function str(o: Record<string, unknown>, name: string, what: string): string {
  const v = o[name];
  if (v === null || v === undefined) return "";
  if (typeof v !== "string") throw new PoisonError(`${what} field "${name}" must be a string, not ${kindOf(v)}`);
  return v;
}
function int(o: Record<string, unknown>, name: string, what: string): number {
  const v = o[name];
  if (v === null || v === undefined) return 0;
  if (kindOf(v) !== "int" || typeof v !== "number") throw new PoisonError(`${what} field "${name}" must be an int, not ${kindOf(v)}`);
  return v;
}

export function parseFollow(r: unknown): Follow {
  const o = fields(r, "a follow");
  const u = o.unfollow;
  if (u !== null && u !== undefined && typeof u !== "boolean") throw new PoisonError(`a follow field "unfollow" must be a bool, not ${kindOf(u)}`);
  return { from: str(o, "from", "a follow"), to: str(o, "to", "a follow"), unfollow: u === true };
}

export function parsePost(r: unknown): Post {
  const o = fields(r, "a post");
  return { author: str(o, "author", "a post"), id: int(o, "id", "a post"), text: str(o, "text", "a post") };
}

export default defineModule("social", (m) => {
  const follows = m.depot<Follow>("follows", hashBy(key("to")));
  const posts = m.depot<Post>("posts", hashBy(key("author")));

  const followers = m.pstate<string, Set<string>>("$$followers", S.mapOf(S.string, S.setOf(S.string).subindexed()));
  const followerCounts = m.pstate<string, number>("$$followerCounts", S.mapOf(S.string, S.int));
  const postCounts = m.pstate<string, number>("$$postCounts", S.mapOf(S.string, S.int));
  const timelines = m.pstate<string, Post[]>("$$timelines", S.mapOf(S.string, S.listOf(TimelineEntry).subindexed()));

  const t = m.stream("social");

  const follow = t.stage<Follow>("follow", (ctx, record) => {
    const f = parseFollow(record);
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

  const post = t.stage<Post>("post", (ctx, record) => {
    const p = parsePost(record);
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

  const deliver = t.stage<Delivery>("deliver", (ctx, d) => {
    const o = fields(d, "a delivery");
    ctx.transform(timelines, key(str(o, "follower", "a delivery")).append((o.post ?? null) as Value));
  });

  t.source(follows, follow);
  t.source(posts, post);
});
