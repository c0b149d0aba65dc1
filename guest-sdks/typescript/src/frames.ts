// ABI frames (abi/ABI.md §6): decoders of the frames the guest reads (init,
// batch, response) and encoders of those it writes (effects, query). Frames
// from the host are untrusted: every length is checked before use (§6.7).

import { Writer, encodeInto, decodePure, utf8EncodeLossy } from "./msgpack.js";
import { encode, decode } from "./codec.js";

export const FrameVersion = 1;
export const KindInit = 1;
export const KindBatch = 2;
export const KindEffects = 3;
export const KindQuery = 4;
export const KindResponse = 5;

export const OpAppend = 1;
export const OpHop = 2;
export const OpTransform = 3;
export const OpEmit = 4;
export const OpLog = 5;
export const OpOutcome = 6;
export const OpDefine = 7;
export const OpError = 8;
/** ABI 1.1: combine a value into a PState or the query result with an aggregator (§15.6). */
export const OpAggregate = 9;

/** The aggregators of ABI.md §15.3 (the flags of an AGGREGATE). */
export const AggCount = 1;
export const AggSum = 2;
export const AggMin = 3;
export const AggMax = 4;
export const AggSet = 5;
export const AggList = 6;
export const AggMap = 7;
export const AggTopN = 8;

/** EMIT streams (§6.3, §15.6). */
export const StreamAckReturn = 0;
export const StreamQueryResult = 1;

/** The AGGREGATE target of the query invocation's result (§15.6). */
export const QueryResultTarget = 0xffff;

export const HopHash = 1;
export const HopAll = 2;
export const HopGlobal = 3;
export const HopOrigin = 4;
export const HopShuffle = 5;
export const HopDirect = 6;

export const OutcomeOK = 0;
export const OutcomePoison = 1;
export const OutcomeRetry = 2;

export const QuerySelect = 1;
export const QuerySelectOne = 2;
/** ABI 1.1: invoke a query topology (§15.7). */
export const QueryInvoke = 3;

export const ItemRecord = 1;
export const ItemHop = 2;
/** ABI 1.1: the invocation of a query's entry stage, first item of a QUERY batch (§15.5). */
export const ItemInvoke = 3;

/** Batch flag (1.1): the batch belongs to a query invocation; `topology` indexes the queries. */
export const BatchQuery = 1;

export const NoItem = 0xffffffff;
export const NoDepot = 0xffff;

export const StatusOK = 0;
export const StatusFailed = 1;
export const ResultOK = 0;
export const ResultNotFound = 1;

export const MaxBatchFrame = 64 << 20;
export const MaxEffectsFrame = 16 << 20;
export const MaxQueryFrame = 1 << 20;
export const MaxResponseFrame = 64 << 20;

export const EffectsHeaderSize = 8;
export const EffectHeaderSize = 12;

/** The errno names of ABI.md §9.2, by value. */
export const errnoNames: Record<number, string> = {
  [-1]: "EINVAL",
  [-2]: "ENOENT",
  [-3]: "EBADID",
  [-4]: "ETOOBIG",
  [-5]: "EWRONGPART",
  [-6]: "EQUOTA",
  [-7]: "ESTATE",
  [-8]: "EINTERNAL",
  [-9]: "EPATH",
  [-10]: "ESCHEMA",
  [-11]: "EMULTI",
  [-12]: "ETIMEDOUT",
  [-13]: "EFAILED",
};

export function errnoName(code: number): string {
  return errnoNames[code] ?? `errno ${code}`;
}

const frameNames = ["", "init", "batch", "effects", "query", "response"];

/** Why a frame is malformed: the categories of abi/testdata/frames/invalid.jsonl. */
export type FrameErrorKind =
  | "truncated"
  | "frame_version"
  | "frame_kind"
  | "reserved"
  | "unknown_code"
  | "too_large"
  | "trailing"
  | "bad_value"
  | "sequence";

/** A malformed frame: its kind, the unit (-1: the header) and the byte offset at fault. */
export class FrameError extends Error {
  readonly kind: FrameErrorKind;
  readonly index: number;
  readonly offset: number;
  constructor(frame: number, kind: FrameErrorKind, index: number, offset: number, msg: string) {
    const unit = index < 0 ? "header" : `${frame === KindBatch ? "item" : "result"} ${index}`;
    super(`squall: ${frameNames[frame]} frame: ${unit} at byte ${offset}: ${msg}`);
    this.name = "FrameError";
    this.kind = kind;
    this.index = index;
    this.offset = offset;
  }
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function checkHeader(b: Uint8Array, kind: number, min: number): DataView {
  if (b.length < 1) throw new FrameError(kind, "truncated", -1, 0, "empty frame");
  if (b[0] !== FrameVersion) throw new FrameError(kind, "frame_version", -1, 0, `version ${b[0]}; ABI v1 frames have version 1`);
  if (b.length < 2) throw new FrameError(kind, "truncated", -1, 0, `header needs ${min} bytes, ${b.length} left`);
  if (b[1] !== kind) throw new FrameError(kind, "frame_kind", -1, 1, `kind ${b[1]}, want ${kind} (${frameNames[kind]})`);
  if (b.length < min) throw new FrameError(kind, "truncated", -1, 0, `header needs ${min} bytes, ${b.length} left`);
  return dv(b);
}

/** The init frame (§6.1). */
export interface InitFrame {
  flags: number;
  hostMajor: number;
  hostMinor: number;
  tasks: number;
  timeUnixNano: bigint;
  seed: bigint;
}

export const InitDescribe = 1;

export function decodeInit(b: Uint8Array): InitFrame {
  const v = checkHeader(b, KindInit, 32);
  if (b.length > 32) throw new FrameError(KindInit, "too_large", -1, 0, `frame is ${b.length} bytes; the limit is 32`);
  const flags = v.getUint16(2, true);
  if (flags & ~InitDescribe) throw new FrameError(KindInit, "reserved", -1, 2, `flags 0x${flags.toString(16)} set reserved bits`);
  if (v.getUint32(12, true) !== 0) throw new FrameError(KindInit, "reserved", -1, 12, `reserved u32 is ${v.getUint32(12, true)}`);
  return {
    flags,
    hostMajor: v.getUint16(4, true),
    hostMinor: v.getUint16(6, true),
    tasks: v.getUint32(8, true),
    timeUnixNano: v.getBigInt64(16, true),
    seed: v.getBigUint64(24, true),
  };
}

/**
 * One item of a batch frame; the payload is frame[payloadStart, payloadEnd).
 * The 64-bit fields are read from the frame when asked for (the frame is
 * valid during the call only), which keeps the per-item cost low in QuickJS.
 */
export class BatchItem {
  readonly kind: number;
  readonly stage: number;
  readonly depot: number;
  readonly attempt: number;
  readonly sourcePartition: number;
  readonly payloadStart: number;
  readonly payloadEnd: number;
  private readonly v: DataView;
  private readonly p: number;
  constructor(v: DataView, p: number, size: number) {
    const b = v;
    this.v = v;
    this.p = p;
    this.kind = b.getUint8(p + 4);
    this.stage = b.getUint16(p + 6, true);
    this.depot = b.getUint16(p + 8, true);
    this.attempt = b.getUint16(p + 10, true);
    this.sourcePartition = b.getUint32(p + 12, true);
    this.payloadStart = p + 32;
    this.payloadEnd = p + 32 + size;
  }
  /** A record's offset in its depot partition (0 for a hop). */
  get offset(): bigint {
    return this.v.getBigUint64(this.p + 16, true);
  }
  /** The record's append time, or the batch time of the batch that sent a hop. */
  get eventTimeUnixNano(): bigint {
    return this.v.getBigInt64(this.p + 24, true);
  }
}

/** The batch frame (§6.2). */
export interface BatchFrame {
  flags: number;
  batchId: bigint;
  partition: number;
  attempt: number;
  topology: number;
  timeUnixNano: bigint;
  seed: bigint;
  items: BatchItem[];
}

export function decodeBatch(b: Uint8Array): BatchFrame {
  const v = checkHeader(b, KindBatch, 48);
  if (b.length > MaxBatchFrame) throw new FrameError(KindBatch, "too_large", -1, 0, `frame is ${b.length} bytes; the limit is ${MaxBatchFrame}`);
  const flags = v.getUint16(2, true);
  if (flags & ~BatchQuery) throw new FrameError(KindBatch, "reserved", -1, 2, `flags 0x${flags.toString(16)} set reserved bits`);
  const query = (flags & BatchQuery) !== 0;
  if (v.getUint16(26, true) !== 0) throw new FrameError(KindBatch, "reserved", -1, 26, `reserved u16 is ${v.getUint16(26, true)}`);
  if (v.getUint32(28, true) !== 0) throw new FrameError(KindBatch, "reserved", -1, 28, `reserved u32 is ${v.getUint32(28, true)}`);
  const count = v.getUint32(4, true);
  if (count > Math.floor((b.length - 48) / 32)) {
    throw new FrameError(KindBatch, "truncated", -1, 4, `declares ${count} items but ${b.length - 48} bytes follow the header; each needs at least 32`);
  }
  const items: BatchItem[] = new Array(count);
  let p = 48;
  for (let i = 0; i < count; i++) {
    if (b.length - p < 32) throw new FrameError(KindBatch, "truncated", i, p, `item header needs 32 bytes, ${b.length - p} left`);
    const size = v.getUint32(p, true);
    const kind = b[p + 4]!;
    const iflags = b[p + 5]!;
    const depot = v.getUint16(p + 8, true);
    if (kind !== ItemRecord && kind !== ItemHop && kind !== ItemInvoke) {
      throw new FrameError(KindBatch, "unknown_code", i, p + 4, `unknown item kind ${kind}; ABI 1.1 has 1 (RECORD), 2 (HOP) and 3 (INVOKE)`);
    }
    if (kind === ItemRecord && query) throw new FrameError(KindBatch, "reserved", i, p + 4, "a QUERY batch holds INVOKE and HOP items, not RECORD");
    if (kind === ItemInvoke) {
      if (!query) throw new FrameError(KindBatch, "reserved", i, p + 4, "an INVOKE item is allowed only in a QUERY batch");
      if (i !== 0) throw new FrameError(KindBatch, "reserved", i, p + 4, "an INVOKE item must be the first item of its batch");
      const st = v.getUint16(p + 6, true);
      if (st !== 0) throw new FrameError(KindBatch, "reserved", i, p + 6, `an INVOKE item runs the entry stage 0, not ${st}`);
    }
    if (iflags !== 0) throw new FrameError(KindBatch, "reserved", i, p + 5, `item flags 0x${iflags.toString(16)} set reserved bits`);
    if (kind === ItemRecord && depot === NoDepot) {
      throw new FrameError(KindBatch, "reserved", i, p + 8, "a RECORD item needs a depot index, not 0xFFFF");
    }
    const kn = kind === ItemHop ? "HOP" : "INVOKE";
    if (kind !== ItemRecord && depot !== NoDepot) throw new FrameError(KindBatch, "reserved", i, p + 8, `a ${kn} item has depot 0xFFFF, not ${depot}`);
    if (kind !== ItemRecord && (v.getUint32(p + 16, true) !== 0 || v.getUint32(p + 20, true) !== 0)) {
      throw new FrameError(KindBatch, "reserved", i, p + 16, `a ${kn} item has offset 0, not ${v.getBigUint64(p + 16, true)}`);
    }
    if (size === 0) throw new FrameError(KindBatch, "bad_value", i, p, "empty payload; a payload is one MessagePack value");
    if (size > b.length - p - 32) throw new FrameError(KindBatch, "truncated", i, p, `body length ${size} exceeds the ${b.length - p - 32} bytes left`);
    items[i] = new BatchItem(v, p, size);
    p += 32 + size;
  }
  if (p !== b.length) throw new FrameError(KindBatch, "trailing", -1, p, `${b.length - p} bytes after the last item`);
  return {
    flags,
    batchId: v.getBigUint64(8, true),
    partition: v.getUint32(16, true),
    attempt: v.getUint32(20, true),
    topology: v.getUint16(24, true),
    timeUnixNano: v.getBigInt64(32, true),
    seed: v.getBigUint64(40, true),
    items,
  };
}

/** One result of a response frame (§6.6). */
export interface QueryResult {
  status: number;
  /** OK: the value. */
  value?: unknown;
  /** An errno: the host's message. */
  message?: string;
}

export function decodeResponse(b: Uint8Array): QueryResult[] {
  const v = checkHeader(b, KindResponse, 8);
  const flags = v.getUint16(2, true);
  if (flags !== 0) throw new FrameError(KindResponse, "reserved", -1, 2, `flags 0x${flags.toString(16)} set reserved bits`);
  const count = v.getUint32(4, true);
  if (count > Math.floor((b.length - 8) / 8)) {
    throw new FrameError(KindResponse, "truncated", -1, 4, `declares ${count} results but ${b.length - 8} bytes follow the header; each needs at least 8`);
  }
  const out: QueryResult[] = new Array(count);
  let p = 8;
  for (let i = 0; i < count; i++) {
    if (b.length - p < 8) throw new FrameError(KindResponse, "truncated", i, p, `result header needs 8 bytes, ${b.length - p} left`);
    const size = v.getUint32(p, true);
    const status = v.getInt32(p + 4, true);
    if (status > ResultNotFound) {
      throw new FrameError(KindResponse, "unknown_code", i, p + 4, `unknown result status ${status}; use 0 (OK), 1 (NOT_FOUND) or a negative errno`);
    }
    if (size > b.length - p - 8) throw new FrameError(KindResponse, "truncated", i, p, `body length ${size} exceeds the ${b.length - p - 8} bytes left`);
    const body = p + 8;
    const end = body + size;
    if (status === ResultOK) {
      let value: unknown;
      try {
        value = decode(b.subarray(body, end));
      } catch (e) {
        throw new FrameError(KindResponse, "bad_value", i, body, `result: ${(e as Error).message}`);
      }
      out[i] = { status, value };
    } else if (status === ResultNotFound) {
      if (size !== 0) throw new FrameError(KindResponse, "trailing", i, body, `a NOT_FOUND result has an empty body, not ${size} bytes`);
      out[i] = { status };
    } else {
      out[i] = { status, message: utf8Decode(b, body, end) };
    }
    p = end;
  }
  if (p !== b.length) throw new FrameError(KindResponse, "trailing", -1, p, `${b.length - p} bytes after the last result`);
  return out;
}

/** Decodes UTF-8 text leniently (host messages), replacing invalid bytes. */
export function utf8Decode(b: Uint8Array, start: number, end: number): string {
  // Wrap the bytes as a MessagePack str for the strict decoder; fall back to bytewise on failure.
  const n = end - start;
  const w = new Writer(n + 5);
  w.u8(0xdb);
  w.ensure(4);
  w.view.setUint32(w.pos, n);
  w.pos += 4;
  w.bytes(b.subarray(start, end));
  try {
    return decodePure(w.buf, 0, w.pos) as string;
  } catch {
    let s = "";
    for (let i = start; i < end; i++) s += b[i]! < 0x80 ? String.fromCharCode(b[i]!) : "\ufffd";
    return s;
  }
}

// ---------------------------------------------------------------------------
// Writers

/** An error detail (§6.3). */
export interface ErrorDetail {
  kind?: string;
  message: string;
  stack?: string;
}

export function detailValue(d: ErrorDetail): Record<string, string> {
  const o: Record<string, string> = { message: d.message };
  if (d.kind) o.kind = d.kind;
  if (d.stack) o.stack = d.stack;
  return o;
}

/** One effect larger than an effects frame may be (16 MiB). */
export class EffectTooLargeError extends Error {
  constructor(size: number) {
    super(`squall: an effect of ${size} bytes exceeds the ABI's ${MaxEffectsFrame >> 20} MiB effects frame limit`);
    this.name = "EffectTooLargeError";
  }
}

/** The effects frame being built (§6.3). */
export class EffectsWriter {
  readonly w = new Writer(1 << 16);
  count = 0;
  // The start (byte, count) of the current item's unflushed effects.
  markPos = 0;
  markCount = 0;
  constructor() {
    this.reset();
  }
  reset(): void {
    const w = this.w;
    w.pos = 0;
    w.ensure(8);
    w.buf[0] = FrameVersion;
    w.buf[1] = KindEffects;
    w.view.setUint16(2, 0, true);
    w.view.setUint32(4, 0, true);
    w.pos = 8;
    this.count = 0;
    this.markPos = 8;
    this.markCount = 0;
  }
  get size(): number {
    return this.w.pos;
  }
  /** Starts an effect; returns its start for end(). */
  begin(op: number, flags: number, target: number, item: number): number {
    const w = this.w;
    const start = w.pos;
    w.ensure(EffectHeaderSize);
    w.buf[start + 4] = op;
    w.buf[start + 5] = flags;
    w.view.setUint16(start + 6, target, true);
    w.view.setUint32(start + 8, item, true);
    w.pos = start + EffectHeaderSize;
    return start;
  }
  end(start: number): void {
    const size = this.w.pos - start - EffectHeaderSize;
    if (size > MaxEffectsFrame - EffectsHeaderSize - EffectHeaderSize) {
      this.w.pos = start;
      throw new EffectTooLargeError(size);
    }
    this.w.view.setUint32(start, size, true);
    this.count++;
  }
  /** Abandons an effect begun at start (its body could not be encoded). */
  abandon(start: number): void {
    this.w.pos = start;
  }
  /** An effect whose body is one value; on an encoding error nothing is written and the error is thrown. */
  value(op: number, flags: number, target: number, item: number, v: unknown): void {
    const start = this.begin(op, flags, target, item);
    try {
      this.put(v);
    } catch (e) {
      this.abandon(start);
      throw e;
    }
    this.end(start);
  }
  /** Appends one encoded value to the current body. */
  put(v: unknown): void {
    const w = this.w;
    if (nativeEncode) {
      w.bytes(encode(v));
    } else encodeInto(w, v);
  }
  /**
   * Appends two consecutive values (a HOP's key and payload). With the native
   * codec they are encoded in one call, as the list [a, b] minus its one-byte
   * header (0x92), which halves the calls into C per hop.
   */
  putPair(a: unknown, b: unknown): void {
    const w = this.w;
    if (nativeEncode) {
      let enc: Uint8Array | undefined;
      try {
        enc = encode([a, b]);
      } catch {
        enc = undefined; // e.g. a payload exactly at the depth limit: encode them apart
      }
      if (enc !== undefined && enc[0] === 0x92) {
        w.bytes(enc.subarray(1));
        return;
      }
      w.bytes(encode(a));
      w.bytes(encode(b));
      return;
    }
    encodeInto(w, a);
    encodeInto(w, b);
  }
  /**
   * An AGGREGATE (1.1, §15.6): the key path, the value and, for TOP_N, n.
   * On an encoding error nothing is written and the error is thrown.
   */
  aggregate(agg: number, target: number, item: number, keys: unknown[], v: unknown, n?: number): void {
    const start = this.begin(OpAggregate, agg, target, item);
    try {
      this.put(keys);
      this.put(v);
      if (agg === AggTopN) this.put(n ?? 0);
    } catch (e) {
      this.abandon(start);
      throw e;
    }
    this.end(start);
  }
  raw(b: Uint8Array): void {
    this.w.bytes(b);
  }
  log(level: number, item: number, text: string): void {
    let t = utf8EncodeLossy(text);
    if (t.length > 8 << 10) t = t.subarray(0, 8 << 10);
    const start = this.begin(OpLog, level, 0, item);
    this.w.bytes(t);
    this.end(start);
  }
  outcome(item: number, outcome: number, d?: ErrorDetail): void {
    if (outcome === OutcomeOK || d === undefined) {
      this.end(this.begin(OpOutcome, outcome, 0, item));
      return;
    }
    try {
      this.value(OpOutcome, outcome, 0, item, detailValue(d));
    } catch {
      this.value(OpOutcome, outcome, 0, item, { kind: d.kind || "error", message: "the error message could not be encoded" });
    }
  }
  markItem(): void {
    this.markPos = this.w.pos;
    this.markCount = this.count;
  }
  /** Drops the current item's unflushed effects except its LOGs (which are kept, as for failed calls). */
  dropItem(): void {
    const w = this.w;
    const b = w.buf;
    let wp = this.markPos;
    let n = this.markCount;
    for (let r = this.markPos; r < w.pos; ) {
      const size = w.view.getUint32(r, true);
      const end = r + EffectHeaderSize + size;
      if (b[r + 4] === OpLog) {
        b.copyWithin(wp, r, end);
        wp += end - r;
        n++;
      }
      r = end;
    }
    w.pos = wp;
    this.count = n;
  }
  /** The frame, with its count; valid until the next write. */
  frame(): Uint8Array {
    this.w.view.setUint32(4, this.count, true);
    return this.w.buf.subarray(0, this.w.pos);
  }
}

// Whether encode() is the runtime's native codec (then effect bodies are
// copied from its result instead of encoded in place).
let nativeEncode = false;
export function setNativeEncode(on: boolean): void {
  nativeEncode = on;
}

/** A query frame (§6.5) with one query. */
export function encodeQuery(w: Writer, op: number, pstate: number, path: unknown): Uint8Array {
  return encodeQueries(w, [{ op, pstate, path }]);
}

/** A query frame (§6.5). */
export function encodeQueries(w: Writer, qs: { op: number; pstate: number; path: unknown }[]): Uint8Array {
  // For QueryInvoke, pstate is the query's index and path its argument list.
  w.reset();
  w.ensure(8);
  w.buf[0] = FrameVersion;
  w.buf[1] = KindQuery;
  w.view.setUint16(2, 0, true);
  w.view.setUint32(4, qs.length, true);
  w.pos = 8;
  for (const q of qs) {
    const start = w.pos;
    w.ensure(8);
    w.buf[start + 4] = q.op;
    w.buf[start + 5] = 0;
    w.view.setUint16(start + 6, q.pstate, true);
    w.pos = start + 8;
    if (nativeEncode) w.bytes(encode(q.path));
    else encodeInto(w, q.path);
    w.view.setUint32(start, w.pos - start - 8, true);
  }
  return w.buf.subarray(0, w.pos);
}
