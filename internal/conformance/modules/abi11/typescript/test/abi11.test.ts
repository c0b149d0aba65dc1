// The ABI 1.1 conformance module under the in-memory host (the suite
// compares it with Go and Rust in wasm on the real host).
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatValue, InvokeError, key } from "@squall/sdk";
import { Harness } from "@squall/sdk/testing";
import abi11 from "../src/index.js";

test("microbatch aggregation, queries, a query from a stream topology, ticks", () => {
  const h = new Harness(abi11, { partitions: 4 });
  for (let i = 0; i < 10; i++) h.append("events", { k: `k${i}`, g: ["a", "b", "c"][i % 3], n: (i * 7) % 10 });
  assert.ok(h.stats().microbatches >= 4, `max_records 3: ${JSON.stringify(h.stats())}`);
  const a = h.query<Record<string, unknown>>("group", ["a"]);
  assert.equal(a.count, 4, formatValue(a));
  assert.equal(formatValue(a.top), '[[3, "k9"], [2, "k6"]]');
  assert.equal(formatValue(a.set), '#{"k0", "k3", "k6", "k9"}');
  assert.equal(h.query("group", ["nobody"]), null);
  const all = h.query<Record<string, unknown>>("all");
  assert.equal(all.total, 10, formatValue(all));
  assert.equal(formatValue(all.groups), '{"a": 4, "b": 3, "c": 3}');
  assert.equal((all.order as unknown[]).length, 3);
  const both = h.query<unknown[]>("both", ["a", "c"]);
  assert.deepEqual(both, [a.sum, h.query<Record<string, unknown>>("group", ["c"]).sum]);
  assert.throws(
    () => h.query("group"),
    (e: unknown) => e instanceof InvokeError && e.code === -1 && e.hostMessage === "query group takes 1 arguments (g); got 0",
  );
  const r = h.append("calls", { k: "c1", g: "b" });
  assert.equal(r.ackReturn("caller"), h.query<Record<string, unknown>>("group", ["b"]).max);
  assert.equal(h.selectOne("$$called", key("c1")), 3);
  h.advance(60);
  for (let p = 0; p < 4; p++) assert.equal(h.pstate("$$ticks", p), 3, `partition ${p}`);
  assert.deepEqual(h.deadLetters(), []);
});

