import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonl, typed, diff } from "./golden.js";
import { aggregateAt, AggregateError } from "../src/testing/aggregate.js";
import { decodePure, encodePure } from "../src/msgpack.js";

test("aggregate.jsonl: every aggregator as the host combines it", () => {
  const vs = jsonl("frames/aggregate.jsonl");
  assert.ok(vs.length >= 20);
  for (const v of vs) {
    const run = () => aggregateAt(typed(v.current), typed(v.keys) as unknown[], v.code, typed(v.value), v.n ?? 0);
    if (v.error) {
      assert.throws(run, AggregateError, v.name);
      continue;
    }
    // Through the codec: the result as a stage would read it back.
    const got = decodePure(encodePure(run()));
    assert.equal(diff(got, typed(v.result)), "", v.name);
  }
});
