// The conformance module under the in-memory host: each topology does what
// docs/conformance.md says (the suite itself compares it with Go and Rust
// in wasm on the real host).
import { test } from "node:test";
import assert from "node:assert/strict";
import { float, key, path } from "@squall/sdk";
import { Harness } from "@squall/sdk/testing";
import conformance from "../src/index.js";

test("values round-trip through a PState and the ack return", () => {
  const h = new Harness(conformance, { partitions: 4 });
  const vals: unknown[] = [null, true, 0, -1, 127, 128, -33, 2 ** 53 - 1, 2n ** 63n - 1n, -(2n ** 63n), float(1), -0, NaN, Infinity, 1.5, "", "héllo", "x".repeat(70000), new Uint8Array([0, 255]), [1, [2, []]], new Map<unknown, unknown>([[1, "a"], ["b", 2], [true, null]]), new Set<unknown>([1, "a", new Uint8Array([1])])];
  vals.forEach((v, i) => {
    const a = h.append("values", { name: `v${i}`, value: v });
    assert.deepEqual(a.ackReturn("values"), v, `value ${i}`);
    assert.deepEqual(h.selectOne("$$values", key(`v${i}`)), v, `stored ${i}`);
  });
});

test("paths: setup, query, mutate", () => {
  const h = new Harness(conformance, { partitions: 4 });
  assert.equal(h.append("paths", { k: "p1", op: "setup" }).ackReturn("paths"), "ok");
  const q = h.append("paths", { k: "p1", op: "query" }).ackReturn("paths") as Record<string, unknown>;
  assert.deepEqual(q["d.key"], [1]);
  assert.deepEqual(q["d.keyMissing"], [null]);
  assert.deepEqual(q["d.mustKeyMissing"], []);
  assert.deepEqual(q["d.all.l"], [5, 1, 4, 2, 3]);
  assert.deepEqual(q["d.nth.l"], [4]);
  assert.deepEqual(q["d.nthOut.l"], []);
  assert.deepEqual(q["d.sorted.m"], [{ b: 2, c: 3 }]);
  assert.deepEqual(q["d.sortedRev.m"], ["d", "c"]); // reverse: from the end
  assert.deepEqual(q["d.filter.ge"], [5, 4]);
  assert.deepEqual(q["d.size.int"], "error");
  assert.deepEqual(q["d.count.missing"], [0]);
  assert.deepEqual(q["s.sortedRev"], [{ e: 5, f: 6 }]);
  assert.deepEqual(q["l.filter"], [10, 20]);
  assert.deepEqual(q["t.filter"], ["p", "r"]);
  assert.equal(Object.keys(q).length, 61);
  const mres = h.append("paths", { k: "p1", op: "mutate" }).ackReturn("paths");
  assert.deepEqual(mres, Array(25).fill("ok"));
  assert.deepEqual(h.selectOne("$$docs", key("p1").key("l")), ["head", 105, 1, 4, 2, 3, 106]);
  assert.deepEqual(h.selectOne("$$docs", key("p1").key("i")), float(2));
  assert.deepEqual(h.select("$$subl", key("p1").all()), [0, 10, 21, 30, 40, 50]);
  assert.deepEqual(h.select("$$subs", key("p1").all()), ["p", "r", "s2"]);
  assert.deepEqual(h.deadLetters(), []);
});

test("hops: every partitioner", () => {
  const h = new Harness(conformance, { partitions: 4 });
  const a = h.append("hops", { k: "h1", n: 3 });
  assert.equal(a.ackReturn("hops"), a.partition);
  const seen = new Map<string, number>();
  for (let p = 0; p < 4; p++) {
    for (const [k, v] of h.selectPartition("$$ran", p, path().key("seen").all()) as [string, number][]) seen.set(k, v);
  }
  const origin = a.partition;
  assert.equal(seen.get(`hash/3/${h.keyPartition("h1")}`), origin);
  assert.equal(seen.get(`hashInt/3/${h.keyPartition(22)}`), origin);
  for (let p = 0; p < 4; p++) assert.equal(seen.get(`all/3/${p}`), origin);
  assert.equal(seen.get("global/3/0"), origin);
  assert.equal(seen.get("direct/3/3"), origin);
  assert.equal(seen.get(`originRecord/3/${origin}`), origin);
  assert.equal(seen.get(`origin/3/${origin}`), h.keyPartition("mid-3"));
  assert.equal([...seen.keys()].filter((k) => k.startsWith("shuffle/3/")).length, 1);
});

test("failures: poison, retry, always, rejected", () => {
  const h = new Harness(conformance, { partitions: 4, maxAttempts: 4 });
  h.append("fails", { k: "a", mode: "poison" });
  assert.deepEqual(h.append("fails", { k: "b", mode: "retry" }).ackReturn("fails"), ["b", 1]);
  h.append("fails", { k: "c", mode: "always" });
  h.append("fails", { k: "d", mode: "badpath" });
  assert.deepEqual(h.append("fails", { k: "e", mode: "ok" }).ackReturn("fails"), ["e", 0]);
  const dl = h.deadLetters().map((d) => [d.error.kind, d.error.message, d.attempts]);
  assert.deepEqual(dl, [
    ["poison", "poisoned a", 1],
    ["error", "permanent failure of c (after 4 attempts)", 4],
    ["rejected", 'EPATH: PState "$$attempts": step 1 append(1) at $["d"]: the schema says int here; append applies to lists and sets (in path key("d").append(1))', 1],
  ]);
  assert.equal(h.selectOne("$$attempts", key("b")), 1);
});

test("read your writes", () => {
  const h = new Harness(conformance, { partitions: 4 });
  h.append("rw", { k: "r" });
  assert.deepEqual(h.append("rw", { k: "r" }).ackReturn("rw"), { n: 2, seen: [1, 2] });
});
