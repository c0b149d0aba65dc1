// The host side of the frames, for the in-memory host: encoders of init,
// batch and response frames, and a strict decoder of effects frames.

import { Writer, decodePure, decodePrefix } from "../msgpack.js";
import * as F from "../frames.js";

export function encodeInit(flags: number, tasks: number, time: bigint, seed: bigint): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  b[0] = 1;
  b[1] = F.KindInit;
  v.setUint16(2, flags, true);
  v.setUint16(4, 1, true);
  v.setUint16(6, 0, true);
  v.setUint32(8, tasks, true);
  v.setBigInt64(16, time, true);
  v.setBigUint64(24, seed, true);
  return b;
}

export interface HostItem {
  kind: number;
  stage: number;
  depot: number;
  attempt: number;
  sourcePartition: number;
  offset: bigint;
  eventTime: bigint;
  payload: Uint8Array;
}

export function encodeBatch(
  h: { batchId: bigint; partition: number; topology: number; time: bigint; seed: bigint; flags?: number; attempt?: number },
  items: HostItem[],
): Uint8Array {
  const w = new Writer(64 + items.reduce((n, it) => n + 32 + it.payload.length, 0));
  w.ensure(48);
  const v = w.view;
  w.buf[0] = 1;
  w.buf[1] = F.KindBatch;
  v.setUint16(2, h.flags ?? 0, true);
  v.setUint32(4, items.length, true);
  v.setUint32(20, h.attempt ?? 0, true);
  v.setBigUint64(8, h.batchId, true);
  v.setUint32(16, h.partition, true);
  v.setUint16(24, h.topology, true);
  v.setBigInt64(32, h.time, true);
  v.setBigUint64(40, h.seed, true);
  w.pos = 48;
  for (const it of items) {
    w.ensure(32);
    const p = w.pos;
    const dv = w.view;
    dv.setUint32(p, it.payload.length, true);
    w.buf[p + 4] = it.kind;
    w.buf[p + 5] = 0;
    dv.setUint16(p + 6, it.stage, true);
    dv.setUint16(p + 8, it.kind !== F.ItemRecord ? F.NoDepot : it.depot, true);
    dv.setUint16(p + 10, it.attempt, true);
    dv.setUint32(p + 12, it.sourcePartition, true);
    dv.setBigUint64(p + 16, it.offset, true);
    dv.setBigInt64(p + 24, it.eventTime, true);
    w.pos = p + 32;
    w.bytes(it.payload);
  }
  return w.result();
}

export function encodeResponse(results: { status: number; body: Uint8Array }[]): Uint8Array {
  const w = new Writer(64);
  w.ensure(8);
  w.buf[0] = 1;
  w.buf[1] = F.KindResponse;
  w.view.setUint32(4, results.length, true);
  w.pos = 8;
  for (const r of results) {
    w.u32le(r.body.length);
    w.ensure(4);
    w.view.setInt32(w.pos, r.status, true);
    w.pos += 4;
    w.bytes(r.body);
  }
  return w.result();
}

export interface Effect {
  op: number;
  flags: number;
  target: number;
  item: number;
  value?: unknown;
  key?: unknown;
  partition?: number;
  text?: string;
  detail?: { kind: string; message: string; stack: string };
  raw?: Uint8Array;
  /** AGGREGATE: TOP_N's n. */
  n?: number;
}

/** Decodes an effects frame strictly; throws an Error naming the effect at fault. */
export function decodeEffects(b: Uint8Array): Effect[] {
  const fail = (i: number, msg: string): never => {
    throw new Error(`effects frame: ${i < 0 ? "header" : `effect ${i}`}: ${msg}`);
  };
  if (b.length < 8 || b[0] !== 1 || b[1] !== F.KindEffects) fail(-1, "bad header");
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint16(2, true) !== 0) fail(-1, "reserved flags set");
  if (b.length > F.MaxEffectsFrame) fail(-1, "frame too large");
  const count = v.getUint32(4, true);
  const out: Effect[] = [];
  let p = 8;
  for (let i = 0; i < count; i++) {
    if (b.length - p < 12) fail(i, "truncated header");
    const size = v.getUint32(p, true);
    const e: Effect = { op: b[p + 4]!, flags: b[p + 5]!, target: v.getUint16(p + 6, true), item: v.getUint32(p + 8, true) };
    const s = p + 12;
    const end = s + size;
    if (end > b.length) fail(i, "body past the frame");
    const one = () => decodePure(b, s, end);
    const detail = () => {
      const d = one() as Record<string, unknown>;
      if (typeof d !== "object" || d === null || typeof d.message !== "string") fail(i, "an error detail must be a map with a message");
      for (const k of Object.keys(d)) if (!["kind", "message", "stack"].includes(k)) fail(i, `error detail key ${k}`);
      return { kind: String(d.kind ?? ""), message: String(d.message), stack: String(d.stack ?? "") };
    };
    switch (e.op) {
      case F.OpAppend:
        if ((e.flags & 3) === 3 || e.flags & ~7) fail(i, `bad APPEND flags ${e.flags}`);
        e.value = one();
        break;
      case F.OpHop: {
        if (e.flags < 1 || e.flags > 6) fail(i, `unknown partitioner ${e.flags}`);
        let q = s;
        if (e.flags === F.HopHash) {
          const r = decodePrefix(b, s, end);
          e.key = r.value;
          q = r.end;
        } else if (e.flags === F.HopDirect) {
          if (end - s < 4) fail(i, "truncated partition");
          e.partition = v.getUint32(s, true);
          q = s + 4;
        }
        e.value = decodePure(b, q, end);
        break;
      }
      case F.OpTransform:
      case F.OpEmit:
        if (e.flags !== 0) fail(i, "flags must be 0");
        e.value = one();
        break;
      case F.OpAggregate: {
        if (e.flags < F.AggCount || e.flags > F.AggTopN) fail(i, `unknown aggregator ${e.flags}; use 1 (COUNT) to 8 (TOP_N)`);
        if (e.item === F.NoItem) fail(i, "AGGREGATE needs an item index, not NoItem (0xFFFFFFFF)");
        const k = decodePrefix(b, s, end);
        if (!Array.isArray(k.value)) fail(i, "AGGREGATE key path must be a list");
        e.key = k.value;
        if (e.flags === F.AggTopN) {
          const x = decodePrefix(b, k.end, end);
          e.value = x.value;
          const n = decodePure(b, x.end, end);
          if (typeof n !== "bigint" && !Number.isInteger(n)) fail(i, "AGGREGATE n of TOP_N must be an int");
          e.n = Number(n);
        } else e.value = decodePure(b, k.end, end);
        break;
      }
      case F.OpLog:
        if (e.flags > 3) fail(i, `unknown log level ${e.flags}`);
        e.text = F.utf8Decode(b, s, end);
        break;
      case F.OpOutcome:
        if (e.flags > 2) fail(i, `unknown outcome ${e.flags}`);
        if (e.flags === 0 && size !== 0) fail(i, "an OK outcome has an empty body");
        if (e.flags !== 0) e.detail = detail();
        break;
      case F.OpDefine:
        e.raw = b.slice(s, end);
        one();
        break;
      case F.OpError:
        e.detail = detail();
        break;
      default:
        fail(i, `unknown op ${e.op}`);
    }
    out.push(e);
    p = end;
  }
  if (p !== b.length) fail(-1, `${b.length - p} bytes after the last effect`);
  return out;
}
