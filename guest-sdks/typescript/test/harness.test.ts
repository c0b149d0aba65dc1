import { test } from "node:test";
import assert from "node:assert/strict";
import { defineModule, hashBy, key, path, schema as S, PoisonError, float, Float64 } from "../src/index.js";
import { Harness } from "../src/testing/index.js";

const mod = defineModule("demo", (m) => {
  const events = m.depot<{ k: string; n?: number; mode?: string }>("events", hashBy(key("k")));
  const counts = m.pstate<string, number>("$$counts", S.mapOf(S.string, S.int));
  const total = m.pstate("$$total", S.int, { global: true });
  const tags = m.pstate("$$tags", S.mapOf(S.string, S.setOf(S.string).subindexed()));
  const t = m.stream("main");
  const start = t.stage<{ k: string; n?: number; mode?: string }>("start", (ctx, r) => {
    if (r.mode === "poison") throw new PoisonError(`poisoned ${r.k}`);
    if (r.mode === "retry" && ctx.attempt < 1) throw new Error(`transient ${r.k}`);
    if (r.mode === "always") throw new Error(`always ${r.k}`);
    if (r.mode === "badpath") {
      ctx.transform(counts, key(r.k).append(1));
      return;
    }
    if (r.mode === "wrongpart") {
      ctx.transform(counts, key(r.k + "-other-partition-key").incr(1));
      ctx.log("not reached if rejected first");
      return;
    }
    ctx.transform(counts, key(r.k).incr(r.n ?? 1));
    ctx.transform(tags, key(r.k).append("t" + (r.n ?? 1)));
    const n = ctx.selectOne<number>(counts, key(r.k));
    ctx.hopGlobal(sum, r.n ?? 1);
    ctx.log(`counted ${r.k}`);
    ctx.emit({ k: r.k, n, attempt: ctx.attempt });
  });
  const sum = t.stage<number>("sum", (ctx, n) => {
    ctx.transform(total, path().incr(n));
  });
  t.source(events, start);
});

test("harness: routing, read-your-writes, hops, ack returns", () => {
  const h = new Harness(mod, { partitions: 4 });
  const a = h.append("events", { k: "a", n: 2 });
  assert.deepEqual(a.ackReturn("main"), { k: "a", n: 2, attempt: 0 });
  h.append("events", { k: "a", n: 3 });
  h.append("events", { k: "b" });
  assert.equal(h.selectOne("$$counts", key("a")), 5);
  assert.equal(h.selectOne("$$counts", key("b")), 1);
  assert.equal(h.selectOne("$$total", path()), 6);
  assert.deepEqual(h.select("$$tags", key("a").all()), ["t2", "t3"]);
  assert.equal(h.logs().filter((l) => l.text === "counted a").length, 2);
  // The record went to the partition that owns its key.
  assert.equal(h.depot("events", a.partition).length >= 1, true);
});

test("harness: poison, retry, retries exhausted, host rejections", () => {
  const h = new Harness(mod, { partitions: 2, maxAttempts: 4 });
  h.append("events", { k: "p", mode: "poison" });
  const r = h.append("events", { k: "r", mode: "retry" });
  assert.deepEqual(r.ackReturn("main"), { k: "r", n: 1, attempt: 1 });
  h.append("events", { k: "x", mode: "always" });
  h.append("events", { k: "c", n: 4 });
  h.append("events", { k: "c", mode: "badpath" });
  const dl = h.deadLetters().map((d) => [d.input, d.error.kind, d.error.message, d.attempts]);
  assert.deepEqual(dl, [
    [{ k: "p", mode: "poison" }, "poison", "poisoned p", 1],
    [{ k: "x", mode: "always" }, "error", "always x (after 4 attempts)", 4],
    [
      { k: "c", mode: "badpath" },
      "rejected",
      'EPATH: PState "$$counts": step 1 append(1) at $["c"]: the schema says int here; append applies to lists and sets (in path key("c").append(1))',
      1,
    ],
  ]);
  assert.equal(h.selectOne("$$counts", key("c")), 4, "the rejected item's effects are undone");
});

test("harness: a bad definition fails with every problem", () => {
  const bad = defineModule("bad", (m) => {
    m.depot("x y");
    m.pstate("ps", S.listOf(S.int));
  });
  assert.throws(() => new Harness(bad), /2 problems/);
});

test("harness: values keep their kinds through PStates", () => {
  const vm = defineModule("vals", (m) => {
    const d = m.depot<{ name: string; value: unknown }>("values", hashBy(key("name")));
    const ps = m.pstate("$$values", S.mapOf(S.string, S.any));
    const t = m.stream("values");
    t.source(
      d,
      t.stage<{ name: string; value: unknown }>("store", (ctx, r) => {
        ctx.transform(ps, key(r.name).set(r.value));
        ctx.emit(ctx.selectOne(ps, key(r.name)));
      }),
    );
  });
  const h = new Harness(vm);
  for (const v of [float(2), 2, -0, NaN, 2n ** 60n, new Uint8Array([1, 2]), new Set([1, "a"]), new Map<unknown, unknown>([[1, "x"]]), { a: [null, true] }]) {
    const a = h.append("values", { name: "v", value: v });
    const got = a.ackReturn("values");
    assert.deepEqual(got, v instanceof Float64 ? float(2) : v);
  }
});

test("harness: a stage that returns a promise is dead-lettered with a clear message", () => {
  const m = defineModule("promise", (b) => {
    const d = b.depot("d");
    const t = b.stream("t");
    t.source(d, t.stage("s", () => Promise.resolve() as unknown as void));
  });
  const h = new Harness(m);
  h.append("d", 1);
  const dl = h.deadLetters();
  assert.equal(dl.length, 1);
  assert.equal(dl[0]!.error.message, 'stage "s" returned a promise; stages are synchronous and promise jobs never run');
});

test("harness: large items flush in the middle; one effect over 16 MiB poisons the item", () => {
  const m = defineModule("big", (b) => {
    const d = b.depot<number>("d");
    const t = b.stream("t");
    const sink = t.stage<string>("sink", () => {});
    t.source(
      d,
      t.stage<number>("s", (ctx, n) => {
        const chunk = "x".repeat(10_000);
        if (n === 1) for (let i = 0; i < 600; i++) ctx.hop(sink, i, chunk); // 6 MB of effects
        else ctx.emit("y".repeat(17 << 20));
      }),
    );
    void sink;
  });
  const h = new Harness(m, { partitions: 2 });
  h.append("d", 1);
  assert.equal(h.deadLetters().length, 0);
  assert.equal(h.stats().items, 1 + 600);
  h.append("d", 2);
  const dl = h.deadLetters();
  assert.equal(dl.length, 1);
  assert.equal(dl[0]!.error.kind, "poison");
  assert.match(dl[0]!.error.message, /exceeds the ABI's 16 MiB effects frame limit/);
});

test("harness: a JS runtime error keeps its class in the message and is retried", () => {
  const m = defineModule("typeerr", (b) => {
    const d = b.depot<{ x?: { y: number } }>("d");
    const t = b.stream("t");
    t.source(
      d,
      t.stage<{ x?: { y: number } }>("s", (_ctx, r) => {
        if (r.x!.y > 0) return;
      }),
    );
  });
  const h = new Harness(m, { maxAttempts: 2 });
  h.append("d", {});
  const dl = h.deadLetters();
  assert.equal(dl.length, 1);
  assert.equal(dl[0]!.error.kind, "error");
  assert.match(dl[0]!.error.message, /^TypeError: .* \(after 2 attempts\)$/);
  assert.match(dl[0]!.error.stack, /harness\.test\.ts/);
});
