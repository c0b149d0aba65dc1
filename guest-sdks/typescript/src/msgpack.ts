// Canonical MessagePack (abi/doc.go is normative) for the JS value mapping
// of value.ts. This pure-TS codec is the reference: the QuickJS runtime's
// native codec (globalThis.__squall.encode/decode) must produce the same
// bytes and the same JS values, and the SDK uses it when present.
//
// Encoding, by JS type (first match wins):
//   null, undefined            nil
//   boolean                    bool
//   number                     int if Number.isSafeInteger(x) and x is not -0; otherwise float64
//   bigint                     int (must be within int64)
//   string                     str (UTF-8; a lone surrogate is an error)
//   Float64                    float64
//   Uint8Array                 bin
//   Array                      array
//   Map                        map (keys encoded like values)
//   Set                        set (ext 1)
//   other ArrayBuffer views, ArrayBuffer, Date, functions, symbols: error
//   any other object           map of its own enumerable string keys; undefined fields are left out
// Maps are sorted by the encoded key bytes; set elements sorted and deduplicated.
//
// Decoding:
//   nil -> null; bool -> boolean; int -> number if safe, else bigint;
//   float -> number, except a safe-integral float (and not -0) -> Float64;
//   in a map key or set element every float -> Float64;
//   str -> string; bin -> Uint8Array (a copy); array -> Array;
//   map whose keys are all strings -> plain object (prototype Object.prototype,
//   "__proto__" defined as an own property); any other map -> Map; set -> Set.

import { Float64, describe } from "./value.js";

/** The deepest nesting of containers the ABI allows. */
export const MaxDepth = 128;

/** Why a byte string is not a valid encoding (the categories of abi/testdata/invalid.jsonl). */
export type DecodeReason =
  | "truncated"
  | "length_exceeds_input"
  | "invalid_utf8"
  | "int_out_of_range"
  | "duplicate_map_key"
  | "duplicate_set_element"
  | "reserved_byte"
  | "unsupported_ext"
  | "bad_set_payload"
  | "trailing_bytes"
  | "too_deep";

/** A decoding failure, with the byte offset where it was found. */
export class DecodeError extends Error {
  readonly reason: DecodeReason;
  readonly offset: number;
  constructor(reason: DecodeReason, offset: number, detail: string) {
    super(`squall: decode: byte offset ${offset}: ${detail}`);
    this.name = "DecodeError";
    this.reason = reason;
    this.offset = offset;
  }
}

/** A JS value that has no Squall encoding, with where it is inside the value. */
export class EncodeError extends Error {
  readonly where: string;
  constructor(where: string, detail: string) {
    super(`squall: encode${where ? " " + where : ""}: ${detail}`);
    this.name = "EncodeError";
    this.where = where;
  }
}

// ---------------------------------------------------------------------------
// Writer

/** A growable byte buffer. */
export class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(cap = 256) {
    this.buf = new Uint8Array(cap);
    this.view = new DataView(this.buf.buffer);
  }
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }
  u16le(x: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, x, true);
    this.pos += 2;
  }
  u32le(x: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, x, true);
    this.pos += 4;
  }
  i64le(x: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, x, true);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** A copy of what was written. */
  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  reset(): void {
    this.pos = 0;
  }
}

const TWO32 = 4294967296;

function writeInt(w: Writer, x: number): void {
  if (x >= 0) {
    if (x < 128) {
      w.ensure(1);
      w.buf[w.pos++] = x;
    } else if (x < 256) {
      w.ensure(2);
      w.buf[w.pos] = 0xcc;
      w.buf[w.pos + 1] = x;
      w.pos += 2;
    } else if (x < 65536) {
      w.ensure(3);
      w.buf[w.pos] = 0xcd;
      w.view.setUint16(w.pos + 1, x);
      w.pos += 3;
    } else if (x < TWO32) {
      w.ensure(5);
      w.buf[w.pos] = 0xce;
      w.view.setUint32(w.pos + 1, x);
      w.pos += 5;
    } else {
      w.ensure(9);
      w.buf[w.pos] = 0xcf;
      w.view.setUint32(w.pos + 1, Math.floor(x / TWO32));
      w.view.setUint32(w.pos + 5, x % TWO32);
      w.pos += 9;
    }
  } else if (x >= -32) {
    w.ensure(1);
    w.buf[w.pos++] = x & 0xff;
  } else if (x >= -128) {
    w.ensure(2);
    w.buf[w.pos] = 0xd0;
    w.view.setInt8(w.pos + 1, x);
    w.pos += 2;
  } else if (x >= -32768) {
    w.ensure(3);
    w.buf[w.pos] = 0xd1;
    w.view.setInt16(w.pos + 1, x);
    w.pos += 3;
  } else if (x >= -2147483648) {
    w.ensure(5);
    w.buf[w.pos] = 0xd2;
    w.view.setInt32(w.pos + 1, x);
    w.pos += 5;
  } else {
    w.ensure(9);
    const hi = Math.floor(x / TWO32);
    w.buf[w.pos] = 0xd3;
    w.view.setInt32(w.pos + 1, hi);
    w.view.setUint32(w.pos + 5, x - hi * TWO32);
    w.pos += 9;
  }
}

const MIN_I64 = -(2n ** 63n);
const MAX_I64 = 2n ** 63n - 1n;

function writeBigInt(w: Writer, x: bigint, where: () => string): void {
  if (x < MIN_I64 || x > MAX_I64) {
    throw new EncodeError(where(), `the int ${x} is out of the int64 range`);
  }
  if (x >= -9007199254740991n && x <= 9007199254740991n) {
    writeInt(w, Number(x));
    return;
  }
  w.ensure(9);
  if (x >= 0n) {
    w.buf[w.pos] = 0xcf;
    w.view.setBigUint64(w.pos + 1, x);
  } else {
    w.buf[w.pos] = 0xd3;
    w.view.setBigInt64(w.pos + 1, x);
  }
  w.pos += 9;
}

function writeFloat(w: Writer, x: number): void {
  w.ensure(9);
  w.buf[w.pos] = 0xcb;
  if (x !== x) {
    // The one canonical NaN: 7ff8000000000000.
    w.view.setUint32(w.pos + 1, 0x7ff80000);
    w.view.setUint32(w.pos + 5, 0);
  } else {
    w.view.setFloat64(w.pos + 1, x);
  }
  w.pos += 9;
}

/** The UTF-8 length of s, or -1 if it has a lone surrogate. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      if (c >= 0xdc00 || i + 1 >= s.length) return -1;
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      i++;
      n += 4;
    } else n += 3;
  }
  return n;
}

function writeUtf8(w: Writer, s: string, n: number): void {
  w.ensure(n);
  const b = w.buf;
  let p = w.pos;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) b[p++] = c;
    else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      b[p++] = 0xf0 | (c >> 18);
      b[p++] = 0x80 | ((c >> 12) & 0x3f);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    } else {
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    }
  }
  w.pos = p;
}

/** UTF-8 bytes of s; throws EncodeError on a lone surrogate. */
export function utf8Encode(s: string): Uint8Array {
  const n = utf8Length(s);
  if (n < 0) throw new EncodeError("", "the string has a lone UTF-16 surrogate, which is not valid Unicode");
  const w = new Writer(n || 1);
  writeUtf8(w, s, n);
  return w.result();
}

/** UTF-8 bytes of s with each lone surrogate replaced by U+FFFD (for log text). */
export function utf8EncodeLossy(s: string): Uint8Array {
  if (utf8Length(s) >= 0) return utf8Encode(s);
  let t = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        t += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    t += c >= 0xd800 && c <= 0xdfff ? "\ufffd" : s[i];
  }
  return utf8Encode(t);
}

function writeStr(w: Writer, s: string, where: () => string): void {
  const n = utf8Length(s);
  if (n < 0) throw new EncodeError(where(), "the string has a lone UTF-16 surrogate, which is not valid Unicode");
  if (n < 32) w.u8(0xa0 | n);
  else if (n < 256) {
    w.ensure(2);
    w.buf[w.pos] = 0xd9;
    w.buf[w.pos + 1] = n;
    w.pos += 2;
  } else if (n < 65536) {
    w.ensure(3);
    w.buf[w.pos] = 0xda;
    w.view.setUint16(w.pos + 1, n);
    w.pos += 3;
  } else {
    w.ensure(5);
    w.buf[w.pos] = 0xdb;
    w.view.setUint32(w.pos + 1, n);
    w.pos += 5;
  }
  writeUtf8(w, s, n);
}

function writeLen(w: Writer, n: number, fix: number, fixMax: number, b16: number): void {
  if (n < fixMax) w.u8(fix | n);
  else if (n < 65536) {
    w.ensure(3);
    w.buf[w.pos] = b16;
    w.view.setUint16(w.pos + 1, n);
    w.pos += 3;
  } else {
    w.ensure(5);
    w.buf[w.pos] = b16 + 1;
    w.view.setUint32(w.pos + 1, n);
    w.pos += 5;
  }
}

function writeBin(w: Writer, b: Uint8Array): void {
  const n = b.length;
  if (n < 256) {
    w.ensure(2);
    w.buf[w.pos] = 0xc4;
    w.buf[w.pos + 1] = n;
    w.pos += 2;
  } else if (n < 65536) {
    w.ensure(3);
    w.buf[w.pos] = 0xc5;
    w.view.setUint16(w.pos + 1, n);
    w.pos += 3;
  } else {
    w.ensure(5);
    w.buf[w.pos] = 0xc6;
    w.view.setUint32(w.pos + 1, n);
    w.pos += 5;
  }
  w.bytes(b);
}

function compareBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

/** Compares two canonical encodings as unsigned bytes (the canonical order of keys and set elements). */
export function compareEncoded(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(a, 0, a.length, b, 0, b.length);
}

function isPlainish(v: object): boolean {
  return !(
    ArrayBuffer.isView(v) ||
    v instanceof ArrayBuffer ||
    v instanceof Date ||
    v instanceof Promise ||
    v instanceof WeakMap ||
    v instanceof WeakSet ||
    v instanceof RegExp
  );
}

type Where = () => string;

function child(where: Where, step: string): Where {
  return () => where() + step;
}

// Entries are encoded key then value into a scratch writer, then copied in key order.
function writeEntries(w: Writer, keys: unknown[], vals: unknown[], depth: number, where: Where, isSet: boolean): void {
  const n = keys.length;
  const s = new Writer(64);
  const starts = new Array<number>(n);
  const mids = new Array<number>(n);
  const ends = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    starts[i] = s.pos;
    const k = keys[i];
    writeValue(s, k, depth, isSet ? child(where, `[element ${i}]`) : child(where, `[key ${i}]`));
    mids[i] = s.pos;
    if (!isSet) writeValue(s, vals[i], depth, child(where, typeof k === "string" ? `.${k}` : `[value ${i}]`));
    ends[i] = s.pos;
  }
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const b = s.buf;
  order.sort((x, y) => compareBytes(b, starts[x]!, mids[x]!, b, starts[y]!, mids[y]!));
  // Duplicates: equal neighbours after sorting.
  let unique = n;
  const dup = new Uint8Array(n);
  for (let i = 1; i < n; i++) {
    const x = order[i - 1]!;
    const y = order[i]!;
    if (compareBytes(b, starts[x]!, mids[x]!, b, starts[y]!, mids[y]!) === 0) {
      if (!isSet) throw new EncodeError(where(), `two map keys have the same encoding (${describe(keys[y])})`);
      dup[i] = 1;
      unique--;
    }
  }
  if (isSet) {
    // Payload: array header + elements; the ext header needs its length first.
    let len = unique < 16 ? 1 : unique < 65536 ? 3 : 5;
    for (let i = 0; i < n; i++) if (!dup[i]) len += ends[order[i]!]! - starts[order[i]!]!;
    if (len === 1) w.u8(0xd4);
    else if (len === 2) w.u8(0xd5);
    else if (len === 4) w.u8(0xd6);
    else if (len === 8) w.u8(0xd7);
    else if (len === 16) w.u8(0xd8);
    else if (len < 256) {
      w.u8(0xc7);
      w.u8(len);
    } else if (len < 65536) {
      w.u8(0xc8);
      w.ensure(2);
      w.view.setUint16(w.pos, len);
      w.pos += 2;
    } else {
      w.u8(0xc9);
      w.ensure(4);
      w.view.setUint32(w.pos, len);
      w.pos += 4;
    }
    w.u8(0x01);
    writeLen(w, unique, 0x90, 16, 0xdc);
  } else {
    writeLen(w, n, 0x80, 16, 0xde);
  }
  for (let i = 0; i < n; i++) {
    if (dup[i]) continue;
    const j = order[i]!;
    w.bytes(b.subarray(starts[j]!, ends[j]!));
  }
}

function writeValue(w: Writer, v: unknown, depth: number, where: Where): void {
  switch (typeof v) {
    case "number":
      if (Number.isSafeInteger(v) && !(v === 0 && 1 / v < 0)) writeInt(w, v);
      else writeFloat(w, v);
      return;
    case "string":
      writeStr(w, v, where);
      return;
    case "boolean":
      w.u8(v ? 0xc3 : 0xc2);
      return;
    case "bigint":
      writeBigInt(w, v, where);
      return;
    case "undefined":
      w.u8(0xc0);
      return;
    case "function":
    case "symbol":
      throw new EncodeError(where(), `${describe(v)} has no Squall encoding`);
  }
  if (v === null) {
    w.u8(0xc0);
    return;
  }
  const o = v as object;
  if (o instanceof Float64) {
    if (typeof o.value !== "number") throw new EncodeError(where(), "a Float64 must hold a number");
    writeFloat(w, o.value);
    return;
  }
  if (o instanceof Uint8Array) {
    writeBin(w, o);
    return;
  }
  if (depth >= MaxDepth) {
    throw new EncodeError(where(), `the value nests more than ${MaxDepth} containers deep (or refers to itself)`);
  }
  const d = depth + 1;
  if (Array.isArray(o)) {
    const n = o.length;
    writeLen(w, n, 0x90, 16, 0xdc);
    for (let i = 0; i < n; i++) writeValue(w, o[i], d, child(where, `[${i}]`));
    return;
  }
  if (o instanceof Map) {
    const keys: unknown[] = [];
    const vals: unknown[] = [];
    o.forEach((val, k) => {
      keys.push(k);
      vals.push(val);
    });
    writeEntries(w, keys, vals, d, where, false);
    return;
  }
  if (o instanceof Set) {
    const keys: unknown[] = [];
    o.forEach((k) => keys.push(k));
    writeEntries(w, keys, keys, d, where, true);
    return;
  }
  if (!isPlainish(o)) throw new EncodeError(where(), `${describe(o)} has no Squall encoding; use a Uint8Array for bytes`);
  const rec = o as Record<string, unknown>;
  const names = Object.keys(rec);
  let keys: string[] = names;
  for (let i = 0; i < names.length; i++) {
    if (rec[names[i]!] === undefined) {
      keys = names.filter((k) => rec[k] !== undefined);
      break;
    }
  }
  const n = keys.length;
  if (n === 1) {
    w.u8(0x81);
    const k = keys[0]!;
    writeStr(w, k, where);
    writeValue(w, rec[k], d, child(where, `.${k}`));
    return;
  }
  const vals = new Array<unknown>(n);
  for (let i = 0; i < n; i++) vals[i] = rec[keys[i]!];
  writeEntries(w, keys, vals, d, where, false);
}

const top: Where = () => "";

/** Appends the canonical encoding of v to w. */
export function encodeInto(w: Writer, v: unknown): void {
  writeValue(w, v, 0, top);
}

/** The canonical MessagePack encoding of v (pure TS; see encode in codec.ts for the fast path). */
export function encodePure(v: unknown): Uint8Array {
  const w = new Writer(64);
  writeValue(w, v, 0, top);
  return w.result();
}

// ---------------------------------------------------------------------------
// Reader

class Reader {
  b: Uint8Array;
  v: DataView;
  p: number;
  end: number;
  constructor(b: Uint8Array, start: number, end: number) {
    this.b = b;
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.p = start;
    this.end = end;
  }
  need(n: number, what: string): void {
    if (this.end - this.p < n) throw new DecodeError("truncated", this.p, `input ends inside ${what}`);
  }
}

function readLen(r: Reader, n: number, what: string): number {
  r.need(n, what);
  const x = n === 1 ? r.b[r.p]! : n === 2 ? r.v.getUint16(r.p) : r.v.getUint32(r.p);
  r.p += n;
  return x;
}

// The reason for a length past the input: "length_exceeds_input" for the
// 32-bit forms (a huge declared length), "truncated" for short inputs.
function short(n: number): DecodeReason {
  return n >= 65536 ? "length_exceeds_input" : "truncated";
}

function readStr(r: Reader, n: number, at: number): string {
  if (r.end - r.p < n) throw new DecodeError(short(n), at, `string of ${n} bytes exceeds the ${r.end - r.p} bytes left`);
  const b = r.b;
  const start = r.p;
  const end = start + n;
  r.p = end;
  // ASCII fast path.
  let i = start;
  while (i < end && b[i]! < 0x80) i++;
  if (i === end) return asciiString(b, start, end);
  const units: number[] = [];
  for (let j = start; j < i; j++) units.push(b[j]!);
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      units.push(c);
      i++;
      continue;
    }
    let cp: number;
    let len: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      cp = c & 0x1f;
      len = 2;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      cp = c & 0x0f;
      len = 3;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      cp = c & 0x07;
      len = 4;
      min = 0x10000;
    } else throw new DecodeError("invalid_utf8", at, "string is not valid UTF-8");
    if (i + len > end) throw new DecodeError("invalid_utf8", at, "string is not valid UTF-8");
    for (let k = 1; k < len; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) throw new DecodeError("invalid_utf8", at, "string is not valid UTF-8");
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new DecodeError("invalid_utf8", at, "string is not valid UTF-8");
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else units.push(cp);
    i += len;
  }
  let s = "";
  for (let k = 0; k < units.length; k += 4096) {
    s += String.fromCharCode.apply(null, units.slice(k, k + 4096));
  }
  return s;
}

function asciiString(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 16) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  let s = "";
  for (let k = start; k < end; k += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(k, Math.min(end, k + 4096)) as unknown as number[]);
  }
  return s;
}

function asFloat(x: number, key: boolean): number | Float64 {
  if (key || (Number.isSafeInteger(x) && !(x === 0 && 1 / x < 0))) return new Float64(x);
  return x;
}

function readInt64(r: Reader, signed: boolean, at: number): number | bigint {
  r.need(8, "an int64");
  const hi = signed ? r.v.getInt32(r.p) : r.v.getUint32(r.p);
  const lo = r.v.getUint32(r.p + 4);
  if (!signed && hi >= 0x80000000) {
    throw new DecodeError("int_out_of_range", at, `integer out of int64 range (${r.v.getBigUint64(r.p)})`);
  }
  const x = hi * TWO32 + lo;
  if (hi >= -0x200000 && hi < 0x200000 && Number.isSafeInteger(x)) {
    r.p += 8;
    return x;
  }
  const big = r.v.getBigInt64(r.p);
  r.p += 8;
  return big;
}

function readValue(r: Reader, depth: number, key: boolean): unknown {
  if (r.p >= r.end) throw new DecodeError("truncated", r.p, "input ends before a value");
  const at = r.p;
  const c = r.b[r.p++]!;
  if (c < 0x80) return c;
  if (c >= 0xe0) return c - 256;
  if (c >= 0xa0 && c <= 0xbf) return readStr(r, c & 0x1f, at);
  if (c >= 0x90 && c <= 0x9f) return readArray(r, c & 0x0f, depth, at);
  if (c >= 0x80 && c <= 0x8f) return readMap(r, c & 0x0f, depth, at);
  switch (c) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc1:
      throw new DecodeError("reserved_byte", at, "the byte 0xc1 is never used");
    case 0xcc:
      return readLen(r, 1, "a uint8");
    case 0xcd:
      return readLen(r, 2, "a uint16");
    case 0xce:
      return readLen(r, 4, "a uint32");
    case 0xcf:
      return readInt64(r, false, at);
    case 0xd0: {
      r.need(1, "an int8");
      return r.v.getInt8(r.p++);
    }
    case 0xd1: {
      r.need(2, "an int16");
      const x = r.v.getInt16(r.p);
      r.p += 2;
      return x;
    }
    case 0xd2: {
      r.need(4, "an int32");
      const x = r.v.getInt32(r.p);
      r.p += 4;
      return x;
    }
    case 0xd3:
      return readInt64(r, true, at);
    case 0xca: {
      r.need(4, "a float32");
      const x = r.v.getFloat32(r.p);
      r.p += 4;
      return asFloat(x, key);
    }
    case 0xcb: {
      r.need(8, "a float64");
      const x = r.v.getFloat64(r.p);
      r.p += 8;
      return asFloat(x, key);
    }
    case 0xd9:
      return readStr(r, readLen(r, 1, "a str8 header"), at);
    case 0xda:
      return readStr(r, readLen(r, 2, "a str16 header"), at);
    case 0xdb:
      return readStr(r, readLen(r, 4, "a str32 header"), at);
    case 0xc4:
    case 0xc5:
    case 0xc6: {
      const n = readLen(r, c === 0xc4 ? 1 : c === 0xc5 ? 2 : 4, "a bin header");
      if (r.end - r.p < n) throw new DecodeError(short(n), at, `bytes of length ${n} exceed the ${r.end - r.p} bytes left`);
      const out = r.b.slice(r.p, r.p + n);
      r.p += n;
      return out;
    }
    case 0xdc:
      return readArray(r, readLen(r, 2, "an array16 header"), depth, at);
    case 0xdd:
      return readArray(r, readLen(r, 4, "an array32 header"), depth, at);
    case 0xde:
      return readMap(r, readLen(r, 2, "a map16 header"), depth, at);
    case 0xdf:
      return readMap(r, readLen(r, 4, "a map32 header"), depth, at);
    case 0xd4:
      return readExt(r, 1, depth, at);
    case 0xd5:
      return readExt(r, 2, depth, at);
    case 0xd6:
      return readExt(r, 4, depth, at);
    case 0xd7:
      return readExt(r, 8, depth, at);
    case 0xd8:
      return readExt(r, 16, depth, at);
    case 0xc7:
      return readExt(r, readLen(r, 1, "an ext8 header"), depth, at);
    case 0xc8:
      return readExt(r, readLen(r, 2, "an ext16 header"), depth, at);
    case 0xc9:
      return readExt(r, readLen(r, 4, "an ext32 header"), depth, at);
  }
  /* c8 unreachable: every byte is covered above */
  throw new DecodeError("reserved_byte", at, `unknown type byte 0x${c.toString(16)}`);
}

function enter(depth: number, at: number): number {
  if (depth >= MaxDepth) throw new DecodeError("too_deep", at, `nesting deeper than ${MaxDepth}`);
  return depth + 1;
}

function readArray(r: Reader, n: number, depth: number, at: number): unknown[] {
  const d = enter(depth, at);
  if (n > r.end - r.p) throw new DecodeError("length_exceeds_input", at, `array of ${n} items exceeds the ${r.end - r.p} bytes left`);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = readValue(r, d, false);
  return out;
}

const hasOwn = Object.prototype.hasOwnProperty;

function readMap(r: Reader, n: number, depth: number, at: number): unknown {
  const d = enter(depth, at);
  if (n * 2 > r.end - r.p) throw new DecodeError("length_exceeds_input", at, `map of ${n} entries exceeds the ${r.end - r.p} bytes left`);
  const obj: Record<string, unknown> = {};
  let i = 0;
  for (; i < n; i++) {
    const kat = r.p;
    const k = readValue(r, d, true);
    if (typeof k !== "string") {
      // Not all keys are strings: continue as a Map.
      const m = new Map<unknown, unknown>();
      const seen = new Set<string>();
      for (const name of Object.keys(obj)) {
        m.set(name, obj[name]);
        seen.add(keyId(name));
      }
      addKey(m, seen, k, readValue(r, d, false), kat);
      for (i++; i < n; i++) {
        const kat2 = r.p;
        const k2 = readValue(r, d, true);
        addKey(m, seen, k2, readValue(r, d, false), kat2);
      }
      return m;
    }
    if (hasOwn.call(obj, k)) throw new DecodeError("duplicate_map_key", kat, `duplicate map key ${JSON.stringify(k)}`);
    const val = readValue(r, d, false);
    if (k === "__proto__") Object.defineProperty(obj, k, { value: val, enumerable: true, writable: true, configurable: true });
    else obj[k] = val;
  }
  return obj;
}

// keyId is a string identity of a key's canonical encoding.
function keyId(k: unknown): string {
  const b = encodePure(k);
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function addKey(m: Map<unknown, unknown>, seen: Set<string>, k: unknown, v: unknown, at: number): void {
  const id = keyId(k);
  if (seen.has(id)) throw new DecodeError("duplicate_map_key", at, "duplicate map key");
  seen.add(id);
  m.set(k, v);
}

function readExt(r: Reader, n: number, depth: number, at: number): Set<unknown> {
  r.need(1, "an extension type");
  const type = r.v.getInt8(r.p++);
  if (r.end - r.p < n) throw new DecodeError(short(n), at, `extension of ${n} bytes exceeds the ${r.end - r.p} bytes left`);
  if (type !== 1) throw new DecodeError("unsupported_ext", at, `unsupported extension type ${type}`);
  const d = enter(depth, at);
  const sub = new Reader(r.b, r.p, r.p + n);
  r.p += n;
  if (n === 0) throw new DecodeError("bad_set_payload", at, "a set payload must be one array");
  const h = sub.b[sub.p]!;
  let count: number;
  const hat = sub.p;
  sub.p++;
  try {
    if (h >= 0x90 && h <= 0x9f) count = h & 0x0f;
    else if (h === 0xdc) count = readLen(sub, 2, "an array16 header");
    else if (h === 0xdd) count = readLen(sub, 4, "an array32 header");
    else throw new DecodeError("bad_set_payload", hat, "a set payload must be one array");
  } catch (e) {
    if (e instanceof DecodeError && e.reason === "truncated") throw new DecodeError("bad_set_payload", hat, "a set payload must be one array");
    throw e;
  }
  if (count > sub.end - sub.p) throw new DecodeError("length_exceeds_input", hat, `set of ${count} elements exceeds the ${sub.end - sub.p} bytes left`);
  const s = new Set<unknown>();
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const eat = sub.p;
    const e = readValue(sub, d, true);
    const id = typeof e === "string" ? "\u0100" + e : keyId(e);
    if (seen.has(id)) throw new DecodeError("duplicate_set_element", eat, "duplicate set element");
    seen.add(id);
    s.add(e);
  }
  if (sub.p !== sub.end) throw new DecodeError("bad_set_payload", sub.p, "a set payload must be exactly one array");
  return s;
}

/** Decodes exactly one value from b[start:end) (pure TS). */
export function decodePure(b: Uint8Array, start = 0, end = b.length): unknown {
  const r = new Reader(b, start, end);
  const v = readValue(r, 0, false);
  if (r.p !== end) throw new DecodeError("trailing_bytes", r.p, `${end - r.p} bytes after the value`);
  return v;
}

/** Decodes one value at the start of b[start:end), returning it and where it ends. */
export function decodePrefix(b: Uint8Array, start: number, end: number): { value: unknown; end: number } {
  const r = new Reader(b, start, end);
  const v = readValue(r, 0, false);
  return { value: v, end: r.p };
}
