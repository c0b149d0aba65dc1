import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonl, typed, hex } from "./golden.js";
import { parsePathText } from "./pathtext.js";
import { encodePure } from "../src/msgpack.js";
import { key, path, mustKey, parsePath, validatePath, PathError, float } from "../src/index.js";

function vectorPaths(): { text: string; value: unknown }[] {
  const out: { text: string; value: unknown }[] = [];
  for (const v of jsonl("frames/effects.jsonl")) for (const e of v.effects) if (e.op === "TRANSFORM") out.push({ text: e.path_text, value: typed(e.path) });
  for (const v of jsonl("frames/query.jsonl")) for (const q of v.queries) if (q.op !== "INVOKE") out.push({ text: q.path_text, value: typed(q.path) });
  return out;
}

test("the builder writes the golden vectors' paths, and renders them as the Go SDK does", () => {
  const ps = vectorPaths();
  assert.ok(ps.length >= 8);
  for (const { text, value } of ps) {
    const p = parsePathText(text);
    assert.equal(hex(encodePure(p.steps)), hex(encodePure(value)), text);
    assert.equal(p.toString(), text);
    assert.equal(parsePath(value).toString(), text);
  }
});

test("ABI forms of every step", () => {
  const p = key("a")
    .mustKey(1)
    .mapVals()
    .mapKeys()
    .all()
    .first()
    .last()
    .nth(-1)
    .sortedRange(null, "z", { excludeFrom: true, includeTo: true, limit: 3, reverse: true })
    .sortedRange("a", undefined)
    .filter("ge", 2)
    .filterExists()
    .nilToVal(0)
    .view("count");
  assert.deepEqual(p.steps, [
    [1, "a"],
    [2, 1],
    [3],
    [12],
    [4],
    [5],
    [6],
    [7, -1],
    [8, null, "z", { excludeFrom: true, includeTo: true, limit: 3, reverse: true }],
    [8, "a", null],
    [9, "ge", 2],
    [9, "exists"],
    [10, 0],
    [11, "count"],
  ]);
  assert.deepEqual(path().set(1).steps, [[32, 1]]);
  assert.deepEqual(mustKey("k").incr(2).steps, [[2, "k"], [33, 2]]);
  assert.equal(hex(encodePure(path().incrFloat(2).steps)), hex(encodePure([[33, float(2)]])));
  assert.equal(hex(encodePure(path().incr(1.5).steps)), "9192" + "21" + "cb3ff8000000000000");
  assert.deepEqual(path().append(1, 2).prepend().remove().steps, [[34, 1, 2], [35], [36]]);
  assert.deepEqual(path().merge({ a: 1 }).steps, [[37, { a: 1 }]]);
  assert.equal(key("a").sortedRange(null, 5, { limit: 2 }).toString(), 'key("a").sortedRange(open, 5, limit=2)');
  // Paths are immutable.
  const base = key("x");
  base.key("y");
  assert.equal(base.length, 1);
});

test("bad paths say what to fix", () => {
  assert.throws(() => path().merge(5), /merge needs a map, not int/);
  assert.throws(() => path().sortedRange(1, 2, { limit: -1 }), /limit must be 0 \(no limit\) or positive/);
  assert.throws(() => path().filter("in" as "eq", 1), /unknown filter comparison "in"/);
  assert.throws(() => path().nth(1.5), /nth needs an int index/);
  assert.match(validatePath(key("a").set(1).remove(), "transform")!.message, /a terminal must be the last step of a path; 1 step\(s\) follow it/);
  assert.match(validatePath(key("a").set(1), "select")!.message, /a select path cannot end with a terminal/);
  assert.match(validatePath(key("a"), "transform")!.message, /a transform path must end with a terminal/);
  assert.match(validatePath(key("a").view("size").set(1), "transform")!.message, /view is read-only/);
  assert.equal(validatePath(key("a").incr(1), "transform"), undefined);
  assert.throws(() => parsePath([[99]]), (e: unknown) => e instanceof PathError && /unknown opcode 99/.test(e.message));
  assert.throws(() => parsePath("x"), /a path is a list of steps, not string/);
  assert.throws(() => parsePath([[9, "gt"]]), /filter gt takes an operand/);
});
