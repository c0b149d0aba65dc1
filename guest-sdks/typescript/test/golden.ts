// Readers for the ABI's golden vectors (abi/testdata) and a strict equality
// for decoded values (int vs float kinds, -0, NaN, Map vs object).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Float64 } from "../src/value.js";
import { encodePure } from "../src/msgpack.js";

export const abiTestdata = fileURLToPath(new URL("../../../abi/testdata/", import.meta.url));

/** The JSON objects of a JSON Lines file of abi/testdata (comments skipped). */
export function jsonl(rel: string): any[] {
  const text = readFileSync(abiTestdata + rel, "utf8");
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => JSON.parse(l));
}

export function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

export function unhex(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

function floatFromBits(bits: string): number {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, BigInt("0x" + bits));
  return dv.getFloat64(0);
}

/**
 * The JS value of a typed JSON value, as the decoder must produce it
 * (key: in a map key or set element, where floats are always Float64).
 */
export function typed(t: any, key = false): unknown {
  if ("nil" in t) return null;
  if ("bool" in t) return t.bool;
  if ("int" in t) {
    const b = BigInt(t.int);
    return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
  }
  if ("float" in t) {
    const x = floatFromBits(t.bits);
    if (key || (Number.isSafeInteger(x) && !Object.is(x, -0))) return new Float64(x);
    return x;
  }
  if ("str" in t) return t.str;
  if ("bytes_hex" in t) return unhex(t.bytes_hex);
  if ("list" in t) return t.list.map((x: any) => typed(x));
  if ("set" in t) return new Set(t.set.map((x: any) => typed(x, true)));
  if ("map" in t) {
    const entries: [unknown, unknown][] = t.map.map((e: any) => [typed(e[0], true), typed(e[1])]);
    if (entries.every(([k]) => typeof k === "string")) {
      const o: Record<string, unknown> = {};
      for (const [k, v] of entries) Object.defineProperty(o, k as string, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }
    return new Map(entries);
  }
  throw new Error("unknown typed value " + JSON.stringify(t));
}

/** Strict structural equality of decoded values; returns a difference or "". */
export function diff(a: unknown, b: unknown, at = "$"): string {
  if (typeof a !== typeof b) return `${at}: ${typeof a} vs ${typeof b}`;
  if (typeof a === "number") {
    const bn = b as number;
    if (Number.isNaN(a) && Number.isNaN(bn)) return "";
    return Object.is(a, bn) ? "" : `${at}: ${a} vs ${bn}`;
  }
  if (a === null || b === null || typeof a !== "object") return a === b ? "" : `${at}: ${String(a)} vs ${String(b)}`;
  const ao = a as object;
  const bo = b as object;
  if (ao.constructor !== bo.constructor) return `${at}: ${ao.constructor?.name} vs ${bo.constructor?.name}`;
  if (ao instanceof Float64) return diff(ao.value, (bo as Float64).value, at);
  if (ao instanceof Uint8Array) return hex(ao) === hex(bo as Uint8Array) ? "" : `${at}: bytes ${hex(ao)} vs ${hex(bo as Uint8Array)}`;
  if (Array.isArray(ao)) {
    const bb = bo as unknown[];
    if (ao.length !== bb.length) return `${at}: length ${ao.length} vs ${bb.length}`;
    for (let i = 0; i < ao.length; i++) {
      const d = diff(ao[i], bb[i], `${at}[${i}]`);
      if (d) return d;
    }
    return "";
  }
  if (ao instanceof Set || ao instanceof Map) {
    const ka = [...(ao as Map<unknown, unknown>).keys()];
    const kb = [...(bo as Map<unknown, unknown>).keys()];
    if (ka.length !== kb.length) return `${at}: size ${ka.length} vs ${kb.length}`;
    const byEnc = new Map(kb.map((k) => [hex(encodePure(k)), k]));
    for (const k of ka) {
      const e = hex(encodePure(k));
      if (!byEnc.has(e)) return `${at}: key ${e} missing`;
      const d = diff(k, byEnc.get(e), `${at}{${e}}`);
      if (d) return d;
      if (ao instanceof Map) {
        const d2 = diff(ao.get(k), (bo as Map<unknown, unknown>).get(byEnc.get(e)), `${at}[${e}]`);
        if (d2) return d2;
      }
    }
    return "";
  }
  const ra = ao as Record<string, unknown>;
  const rb = bo as Record<string, unknown>;
  const ka = Object.keys(ra).sort();
  const kb = Object.keys(rb).sort();
  if (ka.join("\0") !== kb.join("\0")) return `${at}: keys ${ka} vs ${kb}`;
  for (const k of ka) {
    const d = diff(ra[k], rb[k], `${at}.${k}`);
    if (d) return d;
  }
  return "";
}
