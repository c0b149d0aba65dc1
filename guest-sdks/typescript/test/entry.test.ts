// The contract with the QuickJS runtime: an esbuild IIFE bundle of a user's
// module sets globalThis.__squallEntry; the runtime's globalThis.__squall
// provides flush, query (and optionally take, encode, decode).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildSync } from "esbuild";
import vm from "node:vm";
import { fileURLToPath } from "node:url";
import { decodeEffects, encodeBatch, encodeInit, encodeResponse } from "../src/testing/hostframes.js";
import { decodePure, encodePure } from "../src/msgpack.js";
import * as F from "../src/frames.js";
import { hex } from "./golden.js";

const bundle = buildSync({
  entryPoints: [fileURLToPath(new URL("./fixtures/entrymod.ts", import.meta.url))],
  bundle: true,
  format: "iife",
  platform: "neutral",
  target: "es2020",
  write: false,
}).outputFiles[0]!.text;

function load(nativeCodec: boolean) {
  const flushed: F.ErrorDetail[] = [];
  const frames: Uint8Array[] = [];
  const native: Record<string, unknown> = {
    flush(b: Uint8Array) {
      frames.push(b.slice());
      return 0;
    },
    query(req: Uint8Array) {
      // One SELECT_ONE: answer 1 for any key.
      assert.equal(req[1], F.KindQuery);
      return encodeResponse([{ status: 0, body: encodePure(1) }]);
    },
  };
  if (nativeCodec) {
    native.encode = (v: unknown) => encodePure(v);
    native.decode = (b: Uint8Array) => decodePure(b);
  }
  const ctx = vm.createContext({ __squall: native });
  vm.runInContext(bundle, ctx);
  const entry = (ctx as { __squallEntry?: { init(f: Uint8Array): number; process(f: Uint8Array): number } }).__squallEntry;
  assert.ok(entry, "the bundle did not set __squallEntry");
  return { entry, frames, flushed };
}

for (const nativeCodec of [false, true]) {
  test(`bundle entry: init and process (native codec: ${nativeCodec})`, () => {
    const { entry, frames } = load(nativeCodec);
    assert.equal(entry.init(encodeInit(0, 4, 0n, 0n)), 0);
    const def = decodeEffects(frames.shift()!);
    assert.equal(def.length, 1);
    assert.equal(def[0]!.op, F.OpDefine);
    assert.equal((decodePure(def[0]!.raw!) as { name: string }).name, "entry");

    const items = ["a", "poison", "throw"].map((x) => ({
      kind: F.ItemRecord,
      stage: 1,
      depot: 0,
      attempt: 0,
      sourcePartition: 1,
      offset: 0n,
      eventTime: 0n,
      payload: encodePure(x),
    }));
    const st = entry.process(encodeBatch({ batchId: 1n, partition: 1, topology: 0, time: 5n, seed: 9n }, items));
    assert.equal(st, 0);
    const es = frames.flatMap((f) => decodeEffects(f));
    const summary = es.map((e) => [
      e.op,
      e.item,
      e.op === F.OpOutcome ? e.flags : e.op === F.OpEmit ? hex(encodePure(e.value)) : e.op === F.OpHop ? hex(encodePure([e.key, e.value])) : (e.text ?? ""),
    ]);
    assert.deepEqual(summary, [
      [F.OpTransform, 0, ""],
      [F.OpHop, 0, hex(encodePure(["a", { from: "a", deep: [[1.5]] }]))],
      [F.OpLog, 0, "saw a"],
      [F.OpEmit, 0, hex(encodePure({ got: "a", n: 1 }))],
      [F.OpOutcome, 0, F.OutcomeOK],
      [F.OpOutcome, 1, F.OutcomePoison],
      [F.OpOutcome, 2, F.OutcomeRetry],
    ]);
    assert.deepEqual({ kind: es[5]!.detail!.kind, message: es[5]!.detail!.message }, { kind: "poison", message: "bad record" });
    assert.equal(es[6]!.detail!.kind, "error");
    assert.equal(es[6]!.detail!.message, "boom");
    assert.match(es[6]!.detail!.stack, /entrymod|at /);
  });
}

test("bundle entry: a malformed batch fails the call with an ERROR", () => {
  const { entry, frames } = load(false);
  assert.equal(entry.init(encodeInit(0, 4, 0n, 0n)), 0);
  frames.length = 0;
  assert.equal(entry.process(new Uint8Array([1, 2, 0])), F.StatusFailed);
  const es = decodeEffects(frames[0]!);
  assert.equal(es[0]!.op, F.OpError);
  assert.equal(es[0]!.detail!.kind, "abi");
});
