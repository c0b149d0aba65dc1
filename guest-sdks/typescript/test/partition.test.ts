import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonl, typed, hex } from "./golden.js";
import { hashKey, keyPartition } from "../src/index.js";
import { encodePure } from "../src/msgpack.js";

test("partition.jsonl: key hashes and partitions", () => {
  const vs = jsonl("frames/partition.jsonl");
  assert.ok(vs.length >= 10);
  for (const v of vs) {
    const k = typed(v.key);
    assert.equal(hex(encodePure(k)), v.hex, v.name);
    assert.equal(hashKey(k), BigInt(v.hash), v.name);
    for (const [tasks, p] of v.partitions) assert.equal(keyPartition(k, tasks), p, `${v.name} over ${tasks}`);
  }
});
