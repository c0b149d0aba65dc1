// Helpers of the in-memory host: the Squall value operations (equality,
// the canonical order of docs/paths.md, maps and sets) over the SDK's JS
// value mapping.

import { Float64 } from "../value.js";
import { encodePure, compareEncoded } from "../msgpack.js";
import { formatValue, kindOf } from "../text.js";

const kindRank: Record<string, number> = { nil: 0, bool: 1, int: 2, float: 3, string: 4, bytes: 5, list: 6, map: 7, set: 8 };

export const kind = kindOf;

export function isNil(v: unknown): boolean {
  return v === null || v === undefined;
}

/** The canonical encoding of v as a string usable as a JS Map key. */
export function keyId(v: unknown): string {
  const b = encodePure(v);
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export function equal(a: unknown, b: unknown): boolean {
  return compareEncoded(encodePure(a), encodePure(b)) === 0;
}

export function intOf(v: unknown): bigint {
  return typeof v === "bigint" ? v : BigInt(v as number);
}

export function floatOf(v: unknown): number {
  return v instanceof Float64 ? v.value : (v as number);
}

/** An int as the mapping represents it. */
export function mkInt(x: bigint): number | bigint {
  return x >= -9007199254740991n && x <= 9007199254740991n ? Number(x) : x;
}

/** A float as the mapping represents it (integral floats are Float64). */
export function mkFloat(x: number): number | Float64 {
  return Number.isSafeInteger(x) && !Object.is(x, -0) ? new Float64(x) : x;
}

/** A map key as the decoder represents it (floats are Float64). */
function keyForm(k: unknown): unknown {
  return typeof k === "number" && kind(k) === "float" ? new Float64(k) : k;
}

/** The entries of a map value (object or Map), in insertion order. */
export function entries(v: unknown): [unknown, unknown][] {
  if (v instanceof Map) return [...v.entries()];
  return Object.keys(v as object).map((k) => [k, (v as Record<string, unknown>)[k]]);
}

export function items(v: unknown): unknown[] {
  if (v instanceof Set) return [...v];
  if (Array.isArray(v)) return v;
  return [];
}

export function size(v: unknown): number {
  if (v instanceof Map || v instanceof Set) return v.size;
  if (Array.isArray(v)) return v.length;
  if (kind(v) === "map") return Object.keys(v as object).length;
  return 0;
}

/** A map value from entries: a plain object when every key is a string, else a Map. */
export function mkMap(es: [unknown, unknown][]): unknown {
  if (es.every(([k]) => typeof k === "string")) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of es) Object.defineProperty(o, k as string, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }
  return new Map(es.map(([k, v]) => [keyForm(k), v]));
}

export function mkSet(es: unknown[]): Set<unknown> {
  const seen = new Set<string>();
  const out = new Set<unknown>();
  for (const e of es) {
    const id = keyId(e);
    if (seen.has(id)) continue;
    seen.add(id);
    out.add(keyForm(e));
  }
  return out;
}

export function mapGet(v: unknown, k: unknown): [unknown, boolean] {
  if (kind(v) !== "map") return [null, false];
  if (!(v instanceof Map)) {
    if (typeof k !== "string") return [null, false];
    return Object.prototype.hasOwnProperty.call(v, k) ? [(v as Record<string, unknown>)[k], true] : [null, false];
  }
  const id = keyId(k);
  for (const [kk, vv] of v) if (keyId(kk) === id) return [vv, true];
  return [null, false];
}

export function setHas(v: unknown, k: unknown): boolean {
  if (!(v instanceof Set)) return false;
  const id = keyId(k);
  for (const e of v) if (keyId(e) === id) return true;
  return false;
}

function floatOrder(x: number): bigint {
  const dv = new DataView(new ArrayBuffer(8));
  if (x !== x) {
    dv.setUint32(0, 0x7ff80000);
  } else dv.setFloat64(0, x);
  const bits = dv.getBigUint64(0);
  return bits >> 63n ? ~bits & 0xffffffffffffffffn : bits | (1n << 63n);
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return compareEncoded(a, b);
}

function utf8(s: string): Uint8Array {
  return encodePure(s);
}

/** The canonical order of values (Go's squall.Compare): by kind, then within the kind. */
export function compare(a: unknown, b: unknown): number {
  const ka = kind(a);
  const kb = kind(b);
  if (ka !== kb) return kindRank[ka]! - kindRank[kb]!;
  switch (ka) {
    case "nil":
      return 0;
    case "bool":
      return (a ? 1 : 0) - (b ? 1 : 0);
    case "int": {
      const x = intOf(a);
      const y = intOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case "float": {
      const x = floatOrder(floatOf(a));
      const y = floatOrder(floatOf(b));
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case "string": {
      // UTF-8 byte order: skip the (equal-kind) headers by comparing the bodies.
      const x = utf8(a as string);
      const y = utf8(b as string);
      return cmpBytes(x.subarray(hdr(x)), y.subarray(hdr(y)));
    }
    case "bytes":
      return cmpBytes(a as Uint8Array, b as Uint8Array);
    case "list": {
      const x = a as unknown[];
      const y = b as unknown[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case "map": {
      const x = orderedEntries(a);
      const y = orderedEntries(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i]![0], y[i]![0]) || compare(x[i]![1], y[i]![1]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case "set": {
      const x = orderedElems(a);
      const y = orderedElems(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
  }
  return 0;
}

function hdr(b: Uint8Array): number {
  const c = b[0]!;
  if (c >= 0xa0 && c <= 0xbf) return 1;
  return c === 0xd9 ? 2 : c === 0xda ? 3 : 5;
}

export function orderedEntries(v: unknown): [unknown, unknown][] {
  return entries(v).sort((x, y) => compare(x[0], y[0]));
}

export function orderedElems(v: unknown): unknown[] {
  return items(v)
    .slice()
    .sort((x, y) => compare(x, y));
}

export function shortValue(v: unknown): string {
  const s = formatValue(v);
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

export function locString(at: unknown[]): string {
  return "$" + at.map((k) => `[${shortValue(k)}]`).join("");
}

/** A mutable map keyed by canonical encoding, keeping insertion order. */
export class WorkMap {
  private order: string[] = [];
  private m = new Map<string, [unknown, unknown]>();
  constructor(v: unknown) {
    if (kind(v) === "map") for (const [k, x] of entries(v)) this.set(k, x);
  }
  get(k: unknown): [unknown, boolean] {
    const e = this.m.get(keyId(k));
    return e ? [e[1], true] : [null, false];
  }
  set(k: unknown, v: unknown): void {
    const id = keyId(k);
    if (!this.m.has(id)) this.order.push(id);
    this.m.set(id, [k, v]);
  }
  del(k: unknown): void {
    this.m.delete(keyId(k));
  }
  setEntry(k: unknown, nv: unknown): boolean {
    const [old, present] = this.get(k);
    if (isNil(nv) && !present) return false;
    if (isNil(nv)) this.del(k);
    else if (present && equal(old, nv)) return false;
    else this.set(k, nv);
    return true;
  }
  value(): unknown {
    const es: [unknown, unknown][] = [];
    const done = new Set<string>();
    for (const id of this.order) {
      const e = this.m.get(id);
      if (e && !done.has(id)) es.push(e);
      done.add(id);
    }
    return mkMap(es);
  }
}
