import { test } from "node:test";
import assert from "node:assert/strict";
import { defineModule, disallow, hashBy, key, path, RejectedError, schema as S, type Stage } from "../src/index.js";
import { Harness } from "../src/testing/index.js";
import { decodePure, DecodeError } from "../src/msgpack.js";
import * as F from "../src/frames.js";

test("appends from a topology: ack levels, local, disallow depots", () => {
  let other: Stage<unknown>;
  const mod = defineModule("appends", (m) => {
    const orders = m.depot<{ id: string; qty: number }>("orders", hashBy(key("id")));
    const audit = m.depot<{ id: string; p: number }>("audit", disallow());
    const log = m.pstate("$$audit", S.mapOf(S.string, S.int));
    const t = m.stream("orders");
    const place = t.stage<{ id: string; qty: number }>("place", (ctx, o) => {
      if (o.qty < 0) {
        ctx.append(audit, { id: o.id, p: ctx.partition }); // not local: the host rejects it
        return;
      }
      if (o.id === "cross") {
        ctx.hop(other, "x", 1); // a stage of another topology
        return;
      }
      ctx.append(audit, { id: o.id, p: ctx.partition }, { local: true });
      ctx.emit("placed");
    });
    t.source(orders, place);
    const a = m.stream("audit");
    const rec = a.stage<{ id: string; p: number }>("record", (ctx, r) => {
      // A LOCAL append stays on the appender's partition.
      assert.equal(ctx.partition, r.p);
      assert.equal(ctx.kind, "record");
      assert.equal(ctx.depot, "audit");
      ctx.transform(log, key(r.id).incr(1));
      ctx.emit("audited");
    });
    other = rec as Stage<unknown>;
    a.source(audit, rec);
  });
  const h = new Harness(mod, { partitions: 4 });
  const a = h.append("orders", { id: "o1", qty: 2 });
  // The record appended with ACK joins the root's processing: both ack returns.
  assert.deepEqual(a.ackReturns(), { orders: "placed", audit: "audited" });
  assert.equal(h.selectOne("$$audit", key("o1")), 1);
  assert.equal(h.depot("audit", a.partition).length, 1);
  h.append("orders", { id: "o2", qty: -1 });
  h.append("orders", { id: "cross", qty: 1 });
  const dl = h.deadLetters();
  assert.equal(dl.length, 2);
  assert.equal(dl[0]!.error.kind, "rejected");
  assert.match(dl[0]!.error.message, /^EINVAL: depot "audit" is disallow/);
  assert.equal(dl[1]!.error.kind, "error");
  assert.match(dl[1]!.error.message, /a hop stays in its topology/);
  assert.throws(() => h.append("audit", { id: "x", p: 0 }), /disallow/);
});

test("a rejected effect poisons the item; the next ctx call throws RejectedError", () => {
  let seen: unknown;
  const mod = defineModule("rej", (m) => {
    const d = m.depot<string>("in", hashBy(path()));
    const ps = m.pstate("$$c", S.mapOf(S.string, S.int));
    const t = m.stream("t");
    t.source(
      d,
      t.stage<string>("s", (ctx, x) => {
        // A key of (probably) another partition: rejected at the flush before the query.
        ctx.transform(ps, key(x + "!").incr(1));
        try {
          ctx.selectOne(ps, key(x));
        } catch (e) {
          seen = e;
          throw e;
        }
      }),
    );
  });
  const h = new Harness(mod, { partitions: 8 });
  let k = "a";
  for (let i = 0; h.keyPartition(k) === h.keyPartition(k + "!"); i++) k = "a" + i;
  h.append("in", k);
  assert.ok(seen instanceof RejectedError, String(seen));
  const dl = h.deadLetters();
  assert.equal(dl.length, 1);
  assert.equal(dl[0]!.error.kind, "rejected");
  assert.match(dl[0]!.error.message, /^EWRONGPART: key ".*!" belongs to partition \d, not \d; hop there first$/);
});

test("hopDirect, hopShuffle, hopOrigin and ctx fields", () => {
  const got: string[] = [];
  const mod = defineModule("hops", (m) => {
    const d = m.depot<number>("in", hashBy(path()));
    const t = m.stream("t");
    const start = t.stage<number>("start", (ctx, n) => {
      ctx.hopDirect(end, n % ctx.partitions, ["direct", ctx.partition]);
      ctx.hopOrigin(end, ["origin", ctx.partition]);
      ctx.hopShuffle(end, ["shuffle", ctx.partition]);
      assert.equal(typeof ctx.batchTime, "bigint");
      const r = ctx.random();
      assert.ok(r >= 0 && r < 1);
    });
    const end = t.stage<[string, number]>("end", (ctx, [tag, from]) => {
      assert.equal(ctx.kind, "hop");
      assert.equal(ctx.sourcePartition, from);
      got.push(`${tag}:${ctx.partition}`);
      if (tag === "direct") ctx.hopDirect(end, 99, ["bad", 0]); // no partition 99: rejected
    });
    t.source(d, start);
  });
  const h = new Harness(mod, { partitions: 4 });
  const a = h.append("in", 6);
  assert.ok(got.includes("direct:2"));
  assert.ok(got.includes(`origin:${a.partition}`));
  assert.equal(got.filter((g) => g.startsWith("shuffle:")).length, 1);
  const dl = h.deadLetters();
  assert.equal(dl.length, 1);
  assert.match(dl[0]!.error.message, /^EWRONGPART: partition 99 does not exist; the module has 4$/);
  assert.equal(dl[0]!.kind, "hop");
});

test("decoders never crash on random input", () => {
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed);
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from({ length: rnd() % 40 }, () => rnd() % 256);
    if (i % 3 === 0 && b.length > 1) {
      b[0] = 1;
      b[1] = 2 + (i % 4);
    }
    for (const f of [() => decodePure(b), () => F.decodeBatch(b), () => F.decodeResponse(b), () => F.decodeInit(b)]) {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof DecodeError || e instanceof F.FrameError, `${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  }
});
