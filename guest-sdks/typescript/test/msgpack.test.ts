import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonl, typed, diff, hex, unhex } from "./golden.js";
import { encodePure, decodePure, DecodeError, EncodeError } from "../src/msgpack.js";
import { Float64, float } from "../src/value.js";

test("values.jsonl: encode, decode, re-encode", () => {
  const vs = jsonl("values.jsonl");
  assert.ok(vs.length > 90);
  for (const v of vs) {
    const want = typed(v.value);
    assert.equal(hex(encodePure(want)), v.hex, `encode ${v.name}`);
    const got = decodePure(unhex(v.hex));
    assert.equal(diff(got, want), "", `decode ${v.name}`);
    assert.equal(hex(encodePure(got)), v.hex, `re-encode ${v.name}`);
  }
});

test("values.jsonl: encoding does not depend on insertion order", () => {
  for (const v of jsonl("values.jsonl")) {
    const rev = reverse(v.value);
    assert.equal(hex(encodePure(typed(rev))), v.hex, v.name);
  }
});

function reverse(t: any): any {
  if ("list" in t) return { list: t.list.map(reverse) };
  if ("set" in t) return { set: [...t.set].reverse().map(reverse) };
  if ("map" in t) return { map: [...t.map].reverse().map((e: any) => [reverse(e[0]), reverse(e[1])]) };
  return t;
}

test("noncanonical.jsonl: lenient decode, canonical re-encode", () => {
  const vs = jsonl("noncanonical.jsonl");
  assert.ok(vs.length > 20);
  for (const v of vs) {
    const got = decodePure(unhex(v.input));
    assert.equal(diff(got, typed(v.value)), "", v.name);
    assert.equal(hex(encodePure(got)), v.hex, v.name);
  }
});

test("invalid.jsonl: every input rejected with its reason", () => {
  const vs = jsonl("invalid.jsonl");
  assert.ok(vs.length > 50);
  for (const v of vs) {
    assert.throws(
      () => decodePure(unhex(v.hex)),
      (e: unknown) => e instanceof DecodeError && e.reason === v.reason,
      `${v.name}: want ${v.reason}`,
    );
  }
});

test("JS mapping: ints, floats, bigints", () => {
  assert.equal(hex(encodePure(2)), "02");
  assert.equal(hex(encodePure(float(2))), "cb4000000000000000");
  assert.equal(hex(encodePure(2.5)), "cb4004000000000000");
  assert.equal(hex(encodePure(-0)), "cb8000000000000000");
  assert.equal(hex(encodePure(2 ** 53)), "cb4340000000000000"); // not a safe integer: a float
  assert.equal(hex(encodePure(2n ** 53n)), "cf0020000000000000");
  assert.equal(hex(encodePure(5n)), "05");
  assert.equal(decodePure(unhex("05")), 5);
  assert.ok(decodePure(unhex("cb4000000000000000")) instanceof Float64);
  assert.equal(decodePure(unhex("cf0020000000000000")), 2n ** 53n);
  assert.equal(decodePure(unhex("cf001fffffffffffff")), 2 ** 53 - 1);
  assert.equal(decodePure(unhex("d3ffe0000000000001")), -(2 ** 53) + 1);
  assert.equal(decodePure(unhex("d3ffe0000000000000")), -(2n ** 53n));
  assert.throws(() => encodePure(2n ** 63n), EncodeError);
});

test("JS mapping: objects, Maps, undefined, class instances", () => {
  assert.equal(hex(encodePure({ b: 1, a: undefined })), "81a16201");
  assert.equal(hex(encodePure(undefined)), "c0");
  class P {
    constructor(public x: number, public y: string) {}
  }
  assert.equal(hex(encodePure(new P(1, "a"))), hex(encodePure({ x: 1, y: "a" })));
  assert.equal(hex(encodePure(new Map([["a", 1]]))), "81a16101");
  const m = decodePure(encodePure(new Map<unknown, unknown>([[1, "x"], ["a", 2]])));
  assert.ok(m instanceof Map);
  const o = decodePure(unhex("81a9" + hex(new TextEncoder().encode("__proto__")) + "01")) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  assert.deepEqual(Object.keys(o), ["__proto__"]);
  assert.equal(hex(encodePure(o)), "81a95f5f70726f746f5f5f01");
  assert.throws(() => encodePure(new Map<unknown, unknown>([[1, 1], [1n, 2]])), /same encoding/);
  assert.throws(() => encodePure(new Date()), EncodeError);
  assert.throws(() => encodePure(new Uint16Array(2)), EncodeError);
  assert.throws(() => encodePure(() => 1), EncodeError);
  assert.throws(() => encodePure({ s: "\ud800" }), /surrogate/);
  const cyc: any[] = [];
  cyc.push(cyc);
  assert.throws(() => encodePure(cyc), /deep/);
  // Sets dedupe values that encode alike.
  assert.equal(hex(encodePure(new Set<unknown>([1, 1n]))), "d5019101");
  // -0 keys survive in Maps as Float64.
  const z = decodePure(encodePure(new Map<unknown, unknown>([[float(-0), 1], [0, 2]])));
  assert.equal((z as Map<unknown, unknown>).size, 2);
  assert.equal(hex(encodePure(z)), hex(encodePure(new Map<unknown, unknown>([[float(-0), 1], [0, 2]]))));
});

test("the writer grows in every branch (a fixint at a buffer boundary)", () => {
  const m = new Map<unknown, unknown>();
  for (let i = 0; i < 40; i++) m.set(i, i);
  const b = encodePure(m);
  assert.equal(diff(decodePure(b), m), "");
  let v: unknown = 1;
  for (let i = 0; i < 128; i++) v = [v];
  const nested = encodePure(v);
  assert.equal(nested.length, 129);
  assert.equal(nested[128], 1);
  // Every small value written exactly at the edge of a growing buffer.
  for (let n = 60; n < 70; n++) {
    const l = Array.from({ length: n }, (_, i) => i % 100);
    assert.equal(diff(decodePure(encodePure(l)), l), "", `list of ${n}`);
  }
});
