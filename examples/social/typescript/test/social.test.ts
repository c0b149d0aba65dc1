import { test } from "node:test";
import assert from "node:assert/strict";
import { key, path } from "@squall/sdk";
import { Harness, type Appended } from "@squall/sdk/testing";
import social, { FollowerPage, type Follow, type Post } from "../src/index.js";

const timeline = (h: Harness, user: string) => h.select<Post>("$$timelines", key(user).all());
const followersOf = (h: Harness, user: string) => h.select<string>("$$followers", key(user).all());
const intOf = (h: Harness, ps: string, user: string) => h.selectOne<number>(ps, key(user)) ?? 0;

function ack(a: Appended): number {
  const v = a.ackReturn("social");
  assert.equal(typeof v, "number", `${a.depot} ${JSON.stringify(a.record)}: ack return ${String(v)}`);
  return v as number;
}

const follow = (h: Harness, f: Follow) => h.append<Follow>("follows", f);
const post = (h: Harness, p: Post) => h.append<Post>("posts", p);

test("follow and unfollow", () => {
  const h = new Harness(social, { partitions: 4 });
  assert.equal(ack(follow(h, { from: "bob", to: "ann" })), 1);
  assert.equal(ack(follow(h, { from: "cat", to: "ann" })), 2);
  assert.equal(ack(follow(h, { from: "bob", to: "ann" })), 2, "repeated follow");
  assert.deepEqual(followersOf(h, "ann"), ["bob", "cat"]);
  assert.equal(ack(follow(h, { from: "bob", to: "ann", unfollow: true })), 1);
  assert.equal(ack(follow(h, { from: "bob", to: "ann", unfollow: true })), 1, "repeated unfollow");
  assert.equal(ack(follow(h, { from: "dan", to: "eve", unfollow: true })), 0, "unfollow of a non-follower");
  assert.deepEqual(followersOf(h, "ann"), ["cat"]);
  assert.equal(intOf(h, "$$followerCounts", "ann"), 1);
  const owner = h.keyPartition("ann");
  for (let p = 0; p < h.partitions; p++) {
    assert.equal(h.selectPartition("$$followers", p, path().mustKey("ann").all()).length === 1, p === owner);
    assert.equal(h.depot("follows", p).length === 5, p === owner);
  }
  assert.deepEqual(h.deadLetters(), []);

  follow(h, { from: "ann", to: "ann" });
  follow(h, { from: "", to: "ann" });
  const dl = h.deadLetters();
  assert.equal(dl.length, 2);
  assert.equal(dl[0]!.error.kind, "poison");
  assert.equal(dl[0]!.error.message, '"ann" cannot follow themselves');
  assert.equal(dl[1]!.error.message, 'a follow needs both users: from "", to "ann"');
  assert.equal(intOf(h, "$$followerCounts", "ann"), 1);
});

test("fan-out to timelines", () => {
  const h = new Harness(social, { partitions: 4 });
  for (const f of ["bob", "cat", "dan"]) follow(h, { from: f, to: "ann" });
  follow(h, { from: "ann", to: "bob" });
  const ann1 = { author: "ann", id: 1, text: "hello" };
  const ann2 = { author: "ann", id: 2, text: "again" };
  assert.equal(ack(post(h, ann1)), 3);
  assert.equal(ack(post(h, { author: "bob", id: 1, text: "hi ann" })), 1);
  assert.equal(ack(post(h, ann2)), 3);
  assert.equal(ack(post(h, { author: "eve", id: 1, text: "anyone?" })), 0);
  for (const [user, want] of Object.entries({ bob: [ann1, ann2], cat: [ann1, ann2], dan: [ann1, ann2], ann: [{ author: "bob", id: 1, text: "hi ann" }], eve: [] })) {
    assert.deepEqual(timeline(h, user), want, user);
  }
  for (const [user, n] of Object.entries({ ann: 2, bob: 1, eve: 1, cat: 0 })) assert.equal(intOf(h, "$$postCounts", user), n, user);
  follow(h, { from: "cat", to: "ann", unfollow: true });
  post(h, { author: "ann", id: 3, text: "third" });
  assert.deepEqual(timeline(h, "cat"), [ann1, ann2]);
  assert.deepEqual(timeline(h, "bob")[2], { author: "ann", id: 3, text: "third" });
});

for (const n of [FollowerPage - 1, FollowerPage, FollowerPage + 1, 600]) {
  test(`follower paging: ${n} followers`, () => {
    const h = new Harness(social, { partitions: 4, batchSize: 64 });
    const fan = (i: number) => `fan${String(i).padStart(4, "0")}`;
    for (let i = 0; i < n; i++) follow(h, { from: fan(i), to: "star" });
    assert.equal(ack(post(h, { author: "star", id: 7, text: "news" })), n);
    for (let i = 0; i < n; i++) assert.deepEqual(timeline(h, fan(i)), [{ author: "star", id: 7, text: "news" }]);
    assert.equal(intOf(h, "$$followerCounts", "star"), n);
    assert.equal(h.selectOne("$$followers", key("star").view("size")), n);
  });
}

test("a random network", () => {
  const h = new Harness(social, { partitions: 4 });
  let seed = 3;
  const rnd = (k: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % k;
  };
  const users = Array.from({ length: 20 }, (_, i) => `u${String(i).padStart(2, "0")}`);
  const followers = new Map<string, Set<string>>();
  const timelines = new Map<string, Post[]>();
  const posts = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const a = users[rnd(users.length)]!;
    const b = users[rnd(users.length)]!;
    if (a === b) continue;
    const k = rnd(10);
    if (k < 5) {
      follow(h, { from: a, to: b });
      if (!followers.has(b)) followers.set(b, new Set());
      followers.get(b)!.add(a);
    } else if (k < 6) {
      follow(h, { from: a, to: b, unfollow: true });
      followers.get(b)?.delete(a);
    } else {
      posts.set(a, (posts.get(a) ?? 0) + 1);
      const p = { author: a, id: posts.get(a)!, text: `${a} says ${rnd(1000)}` };
      assert.equal(ack(post(h, p)), followers.get(a)?.size ?? 0);
      for (const f of followers.get(a) ?? []) timelines.set(f, [...(timelines.get(f) ?? []), p]);
    }
  }
  for (const u of users) {
    assert.deepEqual(timeline(h, u), timelines.get(u) ?? [], `timeline of ${u}`);
    const want = [...(followers.get(u) ?? [])].sort();
    assert.deepEqual(followersOf(h, u), want, `followers of ${u}`);
    assert.equal(intOf(h, "$$followerCounts", u), want.length);
    assert.equal(intOf(h, "$$postCounts", u), posts.get(u) ?? 0);
  }
  assert.equal(h.stats().deadLetters, 0);
  assert.equal(h.stats().retries, 0);
});
