import { test } from "node:test";
import assert from "node:assert/strict";
import { defineModule, float, recordParser, FieldError, hashBy, key } from "../src/index.js";
import { Harness } from "../src/testing/index.js";

const parse = recordParser({ s: "string", i: "int", b: "bigint", f: "float", t: "bool", y: "bytes", l: "list", m: "map", a: "any" });

test("recordParser: zero values, kinds, errors", () => {
  assert.deepEqual(parse({}), { s: "", i: 0, b: 0n, f: 0, t: false, y: new Uint8Array(0), l: [], m: {}, a: null });
  const full = { s: "x", i: 3, b: 2n ** 60n, f: float(2), t: true, y: new Uint8Array([1]), l: [1], m: new Map([[1, 2]]), a: "any", extra: 1 };
  const got = parse(full);
  assert.deepEqual(got, { s: "x", i: 3, b: 2n ** 60n, f: 2, t: true, y: new Uint8Array([1]), l: [1], m: new Map([[1, 2]]), a: "any" });
  assert.equal(parse({ f: 7 }).f, 7, "a float field accepts an int");
  assert.equal(parse({ b: 5 }).b, 5n);
  assert.throws(() => parse({ s: 42 }), (e: unknown) => e instanceof FieldError && e.message === 'field "s": want string, got int 42');
  assert.throws(() => parse({ i: 1.5 }), /field "i": want int, got float 1.5/);
  assert.throws(() => parse({ i: 2n ** 60n }), /beyond ±2\^53; declare the field "bigint"/);
  assert.throws(() => parse([1]), /want a map with fields "s", "i"/);
  // Types: got.s is a string, got.b a bigint.
  const n: number = got.i + got.f;
  const b: bigint = got.b + 1n;
  assert.ok(n && b);
});

test("a stage with a parser: a record that does not fit is dead-lettered as input", () => {
  const mod = defineModule("parsed", (m) => {
    const d = m.depot<{ user: string; n: number }>("d", hashBy(key("user")));
    const t = m.stream("t");
    t.source(
      d,
      t.stage("s", recordParser({ user: "string", n: "int" }), (ctx, r) => {
        ctx.emit(r.user.toUpperCase() + r.n);
      }),
    );
  });
  const h = new Harness(mod);
  assert.equal(h.append("d", { user: "ann", n: 2 }).ackReturn("t"), "ANN2");
  assert.equal(h.append("d", { user: "bob" }).ackReturn("t"), "BOB0");
  h.append("d", { user: "cat", n: "x" } as never);
  const dl = h.deadLetters();
  assert.equal(dl.length, 1);
  assert.equal(dl[0]!.error.kind, "input");
  assert.equal(dl[0]!.error.message, 'squall: stage "s": input: field "n": want int, got string "x"');
  assert.equal(dl[0]!.attempts, 1);
});
