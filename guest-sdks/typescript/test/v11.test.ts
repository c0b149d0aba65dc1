// ABI 1.1 in the builder, the runtime and the in-memory host: definitions,
// microbatches (all or nothing, retries, poison, pause), queries, ticks
// and the host's rejections.
import { test } from "node:test";
import assert from "node:assert/strict";
import { agg, defineModule, DefinitionError, formatValue, hashBy, InvokeError, key, path, PoisonError, schema } from "../src/index.js";
import { Harness } from "../src/testing/index.js";
import * as F from "../src/frames.js";

test("the definition carries the 1.1 fields and needs minor 1 only when it uses them", () => {
  const m = defineModule("v11", (m) => {
    const d = m.depot("d", hashBy(key("k")));
    m.tickDepot("minute", 60000);
    const mb = m.microbatch("mb", { maxRecords: 5, intervalMs: 100 });
    mb.pstate("$$p", schema.mapOf(schema.string, schema.int));
    mb.source(d, mb.stage("s", () => {}), { startFrom: "end" });
    const q = m.query("q", ["a", "b"]);
    q.stage("entry", () => {});
  });
  const b = m.build();
  assert.equal(b.minor, 1);
  assert.equal(
    formatValue(b.definition),
    '{"name": "v11", "depots": [{"name": "d", "partitioner": {"key": [[1, "k"]], "kind": "hash"}}, {"name": "minute", "partitioner": {"kind": "tick", "millis": 60000}}], ' +
      '"pstates": [{"name": "$$p", "owner": "mb", "schema": {"key": "string", "val": "int", "type": "map"}}], ' +
      '"queries": [{"args": ["a", "b"], "name": "q", "stages": ["entry"]}], ' +
      '"topologies": [{"kind": "microbatch", "name": "mb", "stages": ["s"], "sources": [{"depot": "d", "stage": "s", "start_from": "end"}], "interval_ms": 100, "max_records": 5}]}',
  );
  const plain = defineModule("plain", (m) => {
    const t = m.stream("t");
    t.source(m.depot("d"), t.stage("s", () => {}));
  });
  assert.equal(plain.build().minor, 0);
});

test("bad 1.1 declarations fail with the host's messages", () => {
  const m = defineModule("bad", (m) => {
    m.tickDepot("tick", 0);
    const t = m.microbatch("t", { maxRecords: 0 });
    t.source(m.depot("d"), t.stage("s", () => {}));
    m.query("t", ["x", "x"]);
  });
  assert.throws(
    () => m.build(),
    (e: unknown) =>
      e instanceof DefinitionError &&
      JSON.stringify(e.problems.map((p) => `${p.where}: ${p.msg}`)) ===
        JSON.stringify([
          "depots[0].partitioner.millis: is 0; the tick period must be from 1 to 86400000 milliseconds",
          "queries[0].args[1]: duplicate argument name \"x\" (also queries[0].args[0])",
          'queries[0].name: query name "t" is also a topology name; queries and topologies need distinct names',
          "queries[0].stages: a query needs at least one stage (the first is its entry)",
          "topologies[0].max_records: is 0; it must be from 1 to 1000000",
        ]),
  );
});

test("a failed attempt discards the whole microbatch and retries it; then it applies once", () => {
  let fail = 1;
  const batchIds: bigint[] = [];
  const m = defineModule("retry", (m) => {
    const d = m.depot<{ k: string }>("d", hashBy(key("k")));
    const t = m.microbatch("mb");
    const ps = t.pstate("$$n", schema.mapOf(schema.string, schema.int));
    const hop = t.stage<string>("hop", (ctx, k) => {
      batchIds.push(ctx.batchId);
      if (k === "boom" && fail-- > 0) throw new Error("not yet");
      ctx.aggregate(ps, [k], agg.count());
    });
    t.source(d, t.stage<{ k: string }>("s", (ctx, r) => ctx.hop(hop, r.k, r.k)));
  });
  const h = new Harness(m, { partitions: 3, manual: true });
  for (const k of ["a", "b", "boom", "a"]) h.append("d", { k });
  h.run();
  assert.equal(h.selectOne("$$n", key("a")), 2);
  assert.equal(h.selectOne("$$n", key("boom")), 1);
  assert.equal(h.stats().microbatches, 1);
  assert.equal(h.stats().retries, 1);
  assert.ok(batchIds.every((b) => b === 0n));
  fail = 100;
  h.append("d", { k: "boom" });
  h.append("d", { k: "a" });
  h.run();
  assert.match(h.paused("mb") ?? "", /microbatch 1 failed 8 times.*not yet/);
  assert.equal(h.selectOne("$$n", key("a")), 2, "nothing of a paused microbatch is applied");
});

test("a poisoned hop dead-letters its source record; the rest applies", () => {
  const m = defineModule("poison", (m) => {
    const d = m.depot<{ k: string }>("d", hashBy(key("k")));
    const t = m.microbatch("mb");
    const ps = t.pstate("$$n", schema.mapOf(schema.string, schema.int));
    const hop = t.stage<string>("hop", (ctx, k) => {
      if (k === "bad") throw new PoisonError("bad key");
      ctx.aggregate(ps, [k], agg.sum(10));
    });
    t.source(d, t.stage<{ k: string }>("s", (ctx, r) => ctx.hop(hop, r.k, r.k)));
  });
  const h = new Harness(m, { partitions: 2, manual: true });
  for (const k of ["x", "bad", "y"]) h.append("d", { k });
  h.run();
  const dl = h.deadLetters();
  assert.equal(dl.length, 1, JSON.stringify(dl));
  assert.equal(dl[0]!.stage, "s");
  assert.equal(dl[0]!.kind, "record");
  assert.deepEqual(dl[0]!.input, { k: "bad" });
  assert.match(dl[0]!.error.message, /bad key/);
  assert.equal(h.stats().microbatches, 1);
  assert.equal(h.selectOne("$$n", key("x")), 10);
  assert.equal(h.selectOne("$$n", key("y")), 10);
});

test("queries: results, aggregation, read-only, nested invocations, errors", () => {
  const m = defineModule("q", (m) => {
    const d = m.depot<{ k: string; n: number }>("d", hashBy(key("k")));
    const t = m.stream("t");
    const ps = m.pstate("$$v", schema.mapOf(schema.string, schema.int));
    t.source(d, t.stage<{ k: string; n: number }>("s", (ctx, r) => ctx.transform(ps, key(r.k).set(r.n))));
    const sum = m.query("sum");
    sum.stage("fan", (ctx) => ctx.hopAll(each, null));
    const each = sum.stage("each", (ctx) => {
      for (const n of ctx.select<number>(ps, path().mapVals())) ctx.aggregateResult(["total"], agg.sum(n));
      ctx.aggregateResult(["best"], agg.max(ctx.partition));
    });
    const write = m.query("write");
    write.stage("w", (ctx) => ctx.transform(ps, key("x").set(1)));
    const deep = m.query<[number]>("deep", ["n"]);
    deep.stage<[number]>("d", (ctx, [n]) => ctx.setResult(n === 0 ? "bottom" : ctx.invoke(deep, n - 1)));
  });
  const h = new Harness(m, { partitions: 4 });
  for (const [k, n] of [["a", 1], ["b", 2], ["c", 3]] as const) h.append("d", { k, n });
  assert.equal(formatValue(h.query("sum")), '{"best": 3, "total": 6}');
  assert.throws(() => h.query("write"), (e: unknown) => e instanceof InvokeError && e.code === -13 && /read-only/.test(e.hostMessage));
  assert.equal(h.query("deep", [3]), "bottom");
  assert.throws(() => h.query("deep", [9]), (e: unknown) => e instanceof InvokeError && /deeper than 8/.test(e.message));
});

test("owners: only the owner writes; a tick depot refuses appends", () => {
  const m = defineModule("own", (m) => {
    const d = m.depot<{ k: string }>("d", hashBy(key("k")));
    const ticks = m.tickDepot("ticks", 10);
    const a = m.stream("a");
    const owned = a.pstate("$$owned", schema.mapOf(schema.string, schema.int));
    a.source(d, a.stage("s", (ctx) => ctx.aggregate(owned, ["k"], agg.count())));
    const b = m.stream("b");
    b.source(d, b.stage("s", (ctx) => ctx.aggregate(owned, [], agg.count())));
    b.source(ticks, b.stage("tick", (ctx) => ctx.append(ticks, 1)));
  });
  const h = new Harness(m, { partitions: 1 });
  h.append("d", { k: "k" });
  assert.throws(() => h.append("ticks", 1), /tick depot/);
  h.advance(25);
  assert.equal(h.depot("ticks", 0).length, 2);
  const dls = h.deadLetters().map((d) => d.error.message);
  assert.match(dls[0]!, /EINVAL: PState "\$\$owned" is owned by topology "a"; topology "b" may read it but not write it/);
  assert.match(dls[1]!, /tick depot/);
  assert.equal(h.selectOne("$$owned", key("k")), 1);
});

test("aggregate writes the ABI's AGGREGATE", () => {
  const e = new F.EffectsWriter();
  e.aggregate(F.AggTopN, F.QueryResultTarget, 0, ["top"], [2, "x"], 3);
  assert.equal(Buffer.from(e.frame()).toString("hex"), "01030000010000000a0000000908ffff0000000091a3746f709202a17803");
});

test("a query invoked from a stage reads the committed state, not the caller's staged writes", () => {
  const m = defineModule("snap", (m) => {
    const d = m.depot<{ k: string; n: number }>("d", hashBy(key("k")));
    const mb = m.microbatch("mb");
    const ps = mb.pstate("$$v", schema.mapOf(schema.string, schema.int));
    const get = m.query<[string]>("get", ["k"]);
    get.stage<[string]>("start", (ctx, [k]) => ctx.hop(read, k, k));
    const read = get.stage<string>("read", (ctx, k) => ctx.setResult(ctx.selectOne(ps, key(k)) ?? null));
    mb.source(
      d,
      mb.stage<{ k: string; n: number }>("s", (ctx, r) => {
        ctx.aggregate(ps, [r.k], agg.sum(r.n));
        const seen = ctx.invoke(get, r.k);
        ctx.log(`${r.k}: staged ${ctx.selectOne(ps, key(r.k))}, committed ${seen}`);
      }),
    );
  });
  const h = new Harness(m, { partitions: 2, manual: true });
  h.append("d", { k: "a", n: 1 });
  h.append("d", { k: "a", n: 2 });
  h.run();
  h.append("d", { k: "a", n: 4 });
  h.run();
  assert.deepEqual(
    h.logs().map((l) => l.text),
    ["a: staged 1, committed null", "a: staged 3, committed null", "a: staged 7, committed 3"],
  );
  assert.equal(h.query("get", ["a"]), 7);
});

test("the in-memory host rejects every malformed 1.1 effect of invalid.jsonl", async () => {
  const { jsonl, unhex } = await import("./golden.js");
  const { decodeEffects } = await import("../src/testing/hostframes.js");
  const vs = jsonl("frames/invalid.jsonl").filter((v) => v.minor === 1 && v.frame === "effects");
  assert.ok(vs.length >= 8);
  for (const v of vs) assert.throws(() => decodeEffects(unhex(v.hex)), Error, v.name);
});
