import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonl, typed, diff, hex, unhex } from "./golden.js";
import * as F from "../src/frames.js";
import { Writer, encodePure } from "../src/msgpack.js";

const bytes = (s: string) => unhex(s);

test("init.jsonl decodes", () => {
  for (const v of jsonl("frames/init.jsonl")) {
    const f = F.decodeInit(bytes(v.hex));
    const x = v.fields;
    assert.deepEqual(
      [f.flags, f.hostMajor, f.hostMinor, f.tasks, f.timeUnixNano, f.seed],
      [x.flags, x.host_major, x.host_minor, x.tasks, BigInt(x.time_unix_nano), BigInt(x.seed)],
      v.name,
    );
  }
});

const kinds: Record<string, number> = { RECORD: 1, HOP: 2, INVOKE: 3 };

test("batch.jsonl decodes", () => {
  const vs = jsonl("frames/batch.jsonl");
  assert.ok(vs.length >= 3);
  for (const v of vs) {
    const b = bytes(v.hex);
    const f = F.decodeBatch(b);
    const h = v.header;
    assert.deepEqual(
      [f.flags, f.batchId, f.partition, f.attempt, f.topology, f.timeUnixNano, f.seed],
      [h.flags, BigInt(h.batch_id), h.partition, h.attempt, h.topology, BigInt(h.time_unix_nano), BigInt(h.seed)],
      v.name,
    );
    assert.equal(f.items.length, v.items.length);
    v.items.forEach((it: any, i: number) => {
      const g = f.items[i]!;
      assert.deepEqual(
        [g.kind, g.stage, g.depot, g.attempt, g.sourcePartition, g.offset, g.eventTimeUnixNano],
        [kinds[it.kind], it.stage, it.depot, it.attempt, it.source_partition, BigInt(it.offset), BigInt(it.event_time_unix_nano)],
        `${v.name} item ${i}`,
      );
      const { decodePure } = require_msgpack;
      assert.equal(diff(decodePure(b, g.payloadStart, g.payloadEnd), typed(it.payload)), "", `${v.name} item ${i} payload`);
    });
  }
});

import * as require_msgpack from "../src/msgpack.js";

const statuses: Record<string, number> = { OK: 0, NOT_FOUND: 1 };

test("response.jsonl decodes", () => {
  for (const v of jsonl("frames/response.jsonl")) {
    const rs = F.decodeResponse(bytes(v.hex));
    assert.equal(rs.length, v.results.length, v.name);
    v.results.forEach((r: any, i: number) => {
      const g = rs[i]!;
      assert.equal(g.status, r.code, `${v.name} ${i}`);
      if (r.status in statuses) assert.equal(g.status, statuses[r.status]);
      else assert.equal(F.errnoName(g.status), r.status);
      if ("value" in r) assert.equal(diff(g.value, typed(r.value)), "", `${v.name} ${i}`);
      if ("message" in r) assert.equal(g.message, r.message);
    });
  }
});

const ops: Record<string, number> = { APPEND: 1, HOP: 2, TRANSFORM: 3, EMIT: 4, LOG: 5, OUTCOME: 6, DEFINE: 7, ERROR: 8, AGGREGATE: 9 };
const aggs: Record<string, number> = { COUNT: 1, SUM: 2, MIN: 3, MAX: 4, SET: 5, LIST: 6, MAP: 7, TOP_N: 8 };

function detail(d: any): F.ErrorDetail {
  return { message: d.message, kind: d.kind, stack: d.stack };
}

test("effects.jsonl encodes", () => {
  const vs = jsonl("frames/effects.jsonl");
  assert.ok(vs.length >= 10);
  for (const v of vs) {
    const e = new F.EffectsWriter();
    for (const x of v.effects) {
      const op = ops[x.op]!;
      switch (x.op) {
        case "APPEND":
          e.value(op, x.flags, x.target, x.item, typed(x.record));
          break;
        case "TRANSFORM":
          e.value(op, x.flags, x.target, x.item, typed(x.path));
          break;
        case "EMIT":
          e.value(op, x.flags, x.target, x.item, typed(x.value));
          break;
        case "DEFINE":
          e.value(op, x.flags, x.target, x.item, typed(x.definition));
          break;
        case "ERROR":
          e.value(op, x.flags, x.target, x.item, F.detailValue(detail(x.detail)));
          break;
        case "AGGREGATE":
          assert.equal(aggs[x.aggregator], x.flags, v.name);
          e.aggregate(x.flags, x.target, x.item, typed(x.keys) as unknown[], typed(x.value), x.n);
          break;
        case "LOG":
          e.log(x.flags, x.item, x.text);
          break;
        case "OUTCOME":
          e.outcome(x.item, x.flags, x.detail ? detail(x.detail) : undefined);
          break;
        case "HOP": {
          const s = e.begin(op, x.flags, x.target, x.item);
          if (x.partitioner === "HASH") e.put(typed(x.key));
          if (x.partitioner === "DIRECT") {
            e.w.u32le(x.partition);
          }
          e.put(typed(x.payload));
          e.end(s);
          break;
        }
        default:
          throw new Error(x.op);
      }
    }
    assert.equal(hex(e.frame()), v.hex, v.name);
  }
});

test("query.jsonl encodes", () => {
  const vs = jsonl("frames/query.jsonl");
  assert.ok(vs.length >= 2);
  for (const v of vs) {
    const qs = v.queries.map((q: any) =>
      q.op === "INVOKE" ? { op: F.QueryInvoke, pstate: q.query, path: typed(q.args) } : { op: q.op === "SELECT" ? 1 : 2, pstate: q.pstate, path: typed(q.path) },
    );
    assert.equal(hex(F.encodeQueries(new Writer(), qs)), v.hex, v.name);
  }
  // One query, as the runtime sends them.
  const q = vs[0].queries[0];
  const one = F.encodeQuery(new Writer(), q.op === "SELECT" ? 1 : 2, q.pstate, typed(q.path));
  assert.equal(hex(one.subarray(8)), hex(F.encodeQueries(new Writer(), [{ op: q.op === "SELECT" ? 1 : 2, pstate: q.pstate, path: typed(q.path) }]).subarray(8)));
});

test("invalid.jsonl: guest-side decoders reject every frame of their kind", () => {
  const vs = jsonl("frames/invalid.jsonl").filter((v) => ["init", "batch", "response"].includes(v.frame));
  assert.ok(vs.length >= 15);
  for (const v of vs) {
    const dec = v.frame === "init" ? F.decodeInit : v.frame === "batch" ? F.decodeBatch : F.decodeResponse;
    assert.throws(
      () => dec(bytes(v.hex)),
      (e: unknown) => e instanceof F.FrameError && e.kind === v.error && e.index === v.index && e.offset === v.offset,
      `${v.name}: want ${v.error} ${v.index} ${v.offset}`,
    );
  }
});

test("dropItem keeps the item's logs and the earlier items' effects", () => {
  const e = new F.EffectsWriter();
  e.value(F.OpEmit, 0, 0, 0, 1);
  e.outcome(0, F.OutcomeOK);
  e.markItem();
  e.value(F.OpEmit, 0, 0, 1, 2);
  e.log(1, 1, "kept");
  e.value(F.OpAppend, 0, 0, 1, 3);
  e.dropItem();
  const want = new F.EffectsWriter();
  want.value(F.OpEmit, 0, 0, 0, 1);
  want.outcome(0, F.OutcomeOK);
  want.log(1, 1, "kept");
  assert.equal(hex(e.frame()), hex(want.frame()));
});

test("putPair: one call for key and payload, also at the depth limit", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 128; i++) deep = [deep];
  for (const native of [false, true]) {
    F.setNativeEncode(native);
    try {
      for (const payload of [{ a: 1 }, deep]) {
        const e = new F.EffectsWriter();
        const start = e.w.pos;
        e.putPair("k", payload);
        assert.equal(hex(e.w.buf.subarray(start, e.w.pos)), hex(encodePure("k")) + hex(encodePure(payload)));
      }
    } finally {
      F.setNativeEncode(false);
    }
  }
});
