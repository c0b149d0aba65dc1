// A differential test of the QuickJS runtime's native MessagePack codec
// (__squall.encode/decode) against @squall/sdk's pure-TS codec, the
// reference, run inside the runtime by internal/build's tests. Every
// golden input is decoded by both (same value, or the same error reason)
// and re-encoded by both (same bytes); constructed JS values are encoded by
// both. Any difference fails squall_init with the list of differences.
import { decodePure, encodePure } from "@sdk/msgpack";
import { Float64 } from "@sdk/value";
import { inputs } from "./vectors";

declare const __squall: {
  flush(frame: Uint8Array): number;
  encode(v: unknown): Uint8Array;
  decode(b: Uint8Array): unknown;
};

(globalThis as any).__squallFloat64 = Float64;

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += (x < 16 ? "0" : "") + x.toString(16);
  return s;
}
function unhex(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

// same compares two decoded values exactly: JS types, number identity
// (-0, NaN), Float64 vs number, bigint, bytes, Map/Set order, plain-object
// key order and prototypes.
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === "number") return Object.is(a, b);
  if (typeof a !== "object" || a === null || b === null) return a === b;
  const pa = Object.getPrototypeOf(a), pb = Object.getPrototypeOf(b as object);
  if (pa !== pb) return false;
  if (a instanceof Float64) return Object.is(a.value, (b as Float64).value);
  if (a instanceof Uint8Array) return hex(a) === hex(b as Uint8Array);
  if (Array.isArray(a)) {
    const y = b as unknown[];
    return a.length === y.length && a.every((x, i) => same(x, y[i]));
  }
  if (a instanceof Map) {
    const x = [...a], y = [...(b as Map<unknown, unknown>)];
    return x.length === y.length && x.every(([k, v], i) => same(k, y[i]![0]) && same(v, y[i]![1]));
  }
  if (a instanceof Set) {
    const x = [...a], y = [...(b as Set<unknown>)];
    return x.length === y.length && x.every((k, i) => same(k, y[i]));
  }
  const ka = Object.getOwnPropertyNames(a), kb = Object.getOwnPropertyNames(b as object);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as any)[k], (b as any)[k]));
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };

function attempt(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    const err = e as { name?: string; reason?: string };
    // Decode errors must agree on the reason; encode errors on the class.
    return { ok: false, error: err.reason !== undefined ? `DecodeError/${err.reason}` : "EncodeError" };
  }
}

function show(o: Outcome): string {
  if (!o.ok) return `error ${o.error}`;
  try {
    return hex(encodePure(o.value));
  } catch {
    return String(o.value);
  }
}

class Point {
  x = 1;
  y: number | undefined = undefined;
  label = "p";
}

// Values the golden files cannot express: JS-only shapes and errors.
function constructed(): Array<[string, () => unknown]> {
  let deep: unknown = 1;
  for (let i = 0; i < 128; i++) deep = [deep];
  let tooDeep: unknown = deep;
  tooDeep = [tooDeep];
  const proto = JSON.parse('{"__proto__": 1, "a": 2}');
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  return [
    ["-0", () => -0],
    ["NaN", () => NaN],
    ["Infinity", () => -Infinity],
    ["2^53-1", () => 9007199254740991],
    ["2^53", () => 9007199254740992],
    ["-2^53", () => -9007199254740992],
    ["1e300", () => 1e300],
    ["0.1", () => 0.1],
    ["int32 max", () => 2147483647],
    ["uint32 max", () => 4294967295],
    ["Float64(2)", () => new Float64(2)],
    ["Float64(-0)", () => new Float64(-0)],
    ["Float64(string)", () => new Float64("x" as unknown as number)],
    ["bigint small", () => 5n],
    ["bigint 2^63-1", () => 9223372036854775807n],
    ["bigint -2^63", () => -9223372036854775808n],
    ["bigint 2^63", () => 9223372036854775808n],
    ["bigint -2^63-1", () => -9223372036854775809n],
    ["bigint 2^53", () => 9007199254740992n],
    ["undefined", () => undefined],
    ["string ascii 40", () => "a".repeat(40)],
    ["string unicode", () => "héllo wörld ☃ 𝄞"],
    ["string long", () => "x".repeat(70000)],
    ["lone high surrogate", () => "a\ud800b"],
    ["lone low surrogate", () => "\udc00"],
    ["surrogate at end", () => "ab\ud83d"],
    ["bytes", () => new Uint8Array([0, 1, 255])],
    ["bytes 300", () => new Uint8Array(300)],
    ["bytes view", () => new Uint8Array([9, 8, 7, 6]).subarray(1, 3)],
    ["Int8Array", () => new Int8Array(2)],
    ["DataView", () => new DataView(new ArrayBuffer(2))],
    ["ArrayBuffer", () => new ArrayBuffer(2)],
    ["Date", () => new Date(0)],
    ["RegExp", () => /x/],
    ["function", () => () => 1],
    ["symbol", () => Symbol("s")],
    ["class instance", () => new Point()],
    ["undefined fields", () => ({ a: undefined, b: 1, c: undefined })],
    ["one key", () => ({ zz: [1, 2] })],
    ["integer-like keys", () => ({ b: 1, 10: 2, 2: 3, a: 4 })],
    ["__proto__ key", () => proto],
    ["null prototype", () => Object.assign(Object.create(null), { k: 1 })],
    ["object keys by length", () => ({ bbb: 1, a: 2, cc: 3, aa: 4 })],
    ["nested", () => ({ list: [1, 2.5, "x", null, true, { m: new Map<unknown, unknown>([[1, "a"], ["b", 2]]) }] })],
    ["Map mixed keys", () => new Map<unknown, unknown>([["z", 1], [3, 2], [new Float64(1), 3], [true, 4], [null, 5]])],
    ["Map string keys", () => new Map([["b", 1], ["a", 2]])],
    ["Map duplicate keys", () => new Map<unknown, unknown>([[new Uint8Array([1]), 1], [new Uint8Array([1]), 2]])],
    ["Set", () => new Set<unknown>(["b", "a", 3, 1])],
    ["Set dedup", () => new Set<unknown>([new Float64(1), new Float64(1), 2])],
    ["empty Set", () => new Set()],
    ["big Set", () => new Set(Array.from({ length: 20 }, (_, i) => i * 1000))],
    ["big map", () => Object.fromEntries(Array.from({ length: 40 }, (_, i) => ["k" + i, i]))],
    ["depth 128", () => deep],
    ["depth 129", () => tooDeep],
    ["cyclic", () => cyclic],
    ["array of 70000", () => new Array(70000).fill(0)],
  ];
}

// A seeded generator of random JS values (xorshift32), and of corrupted
// encodings: the same sequence on every run.
let seed = 0x9e3779b9;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}
const pieces = ["", "a", "key", "ü", "☃", "𝄞", "\u0000", "x".repeat(40), "y".repeat(300)];
function randomString(): string {
  let s = "";
  for (let n = rnd(4); n > 0; n--) s += pieces[rnd(pieces.length)];
  if (rnd(50) === 0) s += "\ud800"; // a lone surrogate now and then: an encode error
  return s;
}
function randomValue(depth: number): unknown {
  const k = rnd(depth > 3 ? 9 : 14);
  switch (k) {
    case 0: return null;
    case 1: return rnd(2) === 0;
    case 2: return rnd(256) - 128;
    case 3: return [0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991, -33, -129, -32769, -2147483649, -9007199254740991][rnd(15)];
    case 4: return [1.5, -0.25, 1e300, -0, NaN, Infinity, 2 ** 53, -(2 ** 60), 0.1][rnd(9)];
    case 5: return new Float64([2, 0, -7, 1.5, NaN, -0][rnd(6)]);
    case 6: return [5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n, -(2n ** 53n) - 1n, 2n ** 64n][rnd(6)];
    case 7: return randomString();
    case 8: return new Uint8Array(rnd(3) === 0 ? 300 : rnd(5)).map(() => rnd(256));
    case 9: return Array.from({ length: rnd(5) }, () => randomValue(depth + 1));
    case 10: {
      const o: Record<string, unknown> = {};
      for (let n = rnd(6); n > 0; n--) o[randomString()] = rnd(8) === 0 ? undefined : randomValue(depth + 1);
      return o;
    }
    case 11: {
      const m = new Map<unknown, unknown>();
      for (let n = rnd(5); n > 0; n--) m.set([randomString(), rnd(100), new Float64(rnd(3)), rnd(2) === 0, null][rnd(5)], randomValue(depth + 1));
      return m;
    }
    case 12: return new Set(Array.from({ length: rnd(5) }, () => [rnd(10), randomString(), new Float64(rnd(3) / 2)][rnd(3)]));
    default: return { id: rnd(1000), tags: [randomString()], nested: randomValue(depth + 1) };
  }
}

function run(): string[] {
  const bad: string[] = [];
  // The comparison itself must see differences.
  if (same(1, new Float64(1)) || same(0, -0) || same({ a: 1, b: 2 }, { b: 2, a: 1 }) || !same(new Map([[1, 2]]), new Map([[1, 2]]))) {
    bad.push("the comparison is broken");
  }
  if (inputs.length < 150) bad.push(`only ${inputs.length} golden inputs`);
  for (const [name, h, want] of inputs) {
    const b = unhex(h);
    const p = attempt(() => decodePure(b));
    const n = attempt(() => __squall.decode(b));
    if (p.ok !== n.ok || (!p.ok && !n.ok && p.error !== n.error) || (p.ok && n.ok && !same(p.value, n.value))) {
      bad.push(`decode ${name} (${h.slice(0, 40)}): pure ${show(p)}, native ${show(n)}`);
      continue;
    }
    if (!p.ok || !n.ok) continue;
    const pe = attempt(() => encodePure(p.value));
    const ne = attempt(() => __squall.encode(n.value));
    const ph = pe.ok ? hex(pe.value as Uint8Array) : "error", nh = ne.ok ? hex(ne.value as Uint8Array) : "error";
    if (ph !== nh || (want !== "" && nh !== want)) bad.push(`encode ${name}: pure ${ph.slice(0, 60)}, native ${nh.slice(0, 60)}, want ${want.slice(0, 60)}`);
  }
  for (const [name, make] of constructed()) {
    const p = attempt(() => encodePure(make()));
    const n = attempt(() => __squall.encode(make()));
    const ph = p.ok ? hex(p.value as Uint8Array) : `error ${p.error}`, nh = n.ok ? hex(n.value as Uint8Array) : `error ${n.error}`;
    if (ph !== nh) {
      let i = 0;
      while (i < ph.length && ph[i] === nh[i]) i++;
      bad.push(`encode ${name}: first difference at hex digit ${i}: pure ${ph.slice(i, i + 60)}, native ${nh.slice(i, i + 60)}`);
      continue;
    }
    if (p.ok && n.ok) {
      const pd = attempt(() => decodePure(p.value as Uint8Array));
      const nd = attempt(() => __squall.decode(n.value as Uint8Array));
      if (!(pd.ok && nd.ok && same(pd.value, nd.value))) bad.push(`round trip ${name}: pure ${show(pd)}, native ${show(nd)}`);
    }
  }
  // Random values: encode with both, then decode both encodings, then
  // decode corrupted copies (a changed byte, a cut) with both.
  let corrupted = 0;
  for (let i = 0; i < 3000 && bad.length < 30; i++) {
    const v = randomValue(0);
    const p = attempt(() => encodePure(v));
    const n = attempt(() => __squall.encode(v));
    const ph = p.ok ? hex(p.value as Uint8Array) : `error ${p.error}`, nh = n.ok ? hex(n.value as Uint8Array) : `error ${n.error}`;
    if (ph !== nh) {
      bad.push(`random value ${i}: pure ${ph.slice(0, 80)}, native ${nh.slice(0, 80)}`);
      continue;
    }
    if (!p.ok) continue;
    const enc = p.value as Uint8Array;
    const pd = attempt(() => decodePure(enc));
    const nd = attempt(() => __squall.decode(enc));
    if (!(pd.ok && nd.ok && same(pd.value, nd.value))) {
      bad.push(`random value ${i} (${ph.slice(0, 60)}): decoded pure ${show(pd)}, native ${show(nd)}`);
      continue;
    }
    for (let j = 0; j < 3; j++) {
      const c = enc.slice(0, rnd(3) === 0 ? rnd(enc.length + 1) : enc.length);
      if (c.length > 0 && j > 0) c[rnd(c.length)] = rnd(256);
      const pc = attempt(() => decodePure(c));
      const nc = attempt(() => __squall.decode(c));
      if (pc.ok !== nc.ok || (!pc.ok && !nc.ok && pc.error !== nc.error) || (pc.ok && nc.ok && !same(pc.value, nc.value))) {
        bad.push(`corrupted ${hex(c).slice(0, 60)}: pure ${show(pc)}, native ${show(nc)}`);
      }
      if (!pc.ok) corrupted++;
    }
  }
  if (corrupted < 500) bad.push(`only ${corrupted} corrupted inputs were rejected: the corruption is too weak to test errors`);
  return bad;
}

function str(s: string): number[] {
  return [0xa0 | s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
}

(globalThis as any).__squallEntry = {
  init(_frame: Uint8Array): number {
    const bad = run();
    if (bad.length > 0) throw new Error(`${bad.length} differences:\n` + bad.slice(0, 30).join("\n"));
    const def = [0x83, ...str("depots"), 0x90, ...str("pstates"), 0x90, ...str("topologies"), 0x90];
    const frame = new Uint8Array([1, 3, 0, 0, 1, 0, 0, 0, def.length, 0, 0, 0, 7, 0, 0, 0, 255, 255, 255, 255, ...def]);
    return __squall.flush(frame) === 0 ? 0 : 1;
  },
  process(_frame: Uint8Array): number {
    return 1;
  },
};
