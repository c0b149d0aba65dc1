import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonl, hex } from "./golden.js";
import { defineModule, hashBy, hashRecord, random, disallow, key, schema as S, DefinitionError, type Module } from "../src/index.js";
import { Instance, type Host } from "../src/runtime.js";
import * as F from "../src/frames.js";

const noop = () => {};

const modules: Record<string, Module> = {
  minimal: defineModule(() => {}),
  social: defineModule("social", (m) => {
    const follows = m.depot("follows", hashBy(key("to")));
    m.depot("audit", random());
    m.pstate("followers", S.mapOf(S.string, S.setOf(S.string).subindexed()));
    m.pstate("follower_count", S.mapOf(S.string, S.int));
    const t = m.stream("core");
    const onFollow = t.stage("on_follow", noop);
    t.stage("index", noop);
    t.source(follows, onFollow);
  }),
  "every schema form": defineModule((m) => {
    const events = m.depot("events", hashRecord());
    const internal = m.depot("$internal", disallow());
    m.pstate("counter", S.int, { global: true });
    m.pstate(
      "profiles",
      S.mapOf(
        S.bytes,
        S.record({
          name: S.string,
          score: S.float,
          active: S.bool,
          tags: S.setOf(S.string),
          history: S.listOf(S.any).subindexed(),
          by_day: S.mapOf(S.int, S.mapOf(S.string, S.int)).subindexed(),
        }),
      ),
    );
    const ingest = m.stream("ingest");
    const parse = ingest.stage("parse", noop);
    const replay = ingest.stage("replay", noop);
    ingest.stage("count", noop);
    ingest.source(events, parse);
    ingest.source(internal, replay);
    const audit = m.stream("audit");
    audit.source(events, audit.stage("audit", noop));
  }),
};

test("module_def.jsonl: the builder produces the canonical definitions", () => {
  let n = 0;
  for (const v of jsonl("frames/module_def.jsonl")) {
    const mod = modules[v.name];
    if (!mod) continue;
    n++;
    assert.equal(hex(mod.build().defBytes), v.hex, v.name);
  }
  assert.equal(n, Object.keys(modules).length);
});

test("a bad module reports every problem at once", () => {
  const bad = defineModule("9bad", (m) => {
    const d = m.depot("a b");
    m.depot("a b");
    m.pstate("ps", S.setOf(S.string));
    const t = m.stream("t");
    t.source(d, t.stage("s", noop));
    m.stream("empty");
  });
  assert.throws(
    () => bad.build(),
    (e: unknown) => {
      assert.ok(e instanceof DefinitionError);
      assert.deepEqual(
        e.problems.map((p) => p.where),
        ["depots[0].name", "depots[1].name", "name", "pstates[0].schema", "topologies[1].sources", "topologies[1].stages"],
      );
      return true;
    },
  );
});

class FakeHost implements Host {
  frames: Uint8Array[] = [];
  flush(f: Uint8Array): number {
    this.frames.push(f.slice());
    return 0;
  }
  query(): Uint8Array {
    throw Object.assign(new Error("no queries"), { errno: -7 });
  }
}

function initFrame(): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  b[0] = 1;
  b[1] = 1;
  v.setUint16(4, 1, true);
  v.setUint32(8, 4, true);
  return b;
}

test("init flushes one DEFINE; a broken module fails init with an ERROR", () => {
  const h = new FakeHost();
  const inst = new Instance(modules.social!, h);
  assert.equal(inst.init(initFrame()), F.StatusOK);
  assert.equal(h.frames.length, 1);
  const f = h.frames[0]!;
  assert.equal(f[8 + 4], F.OpDefine);
  assert.equal(hex(f.subarray(8 + 12)), hex(modules.social!.build().defBytes));

  const h2 = new FakeHost();
  const broken = new Instance(
    defineModule((m) => m.depot("bad name")),
    h2,
  );
  assert.equal(broken.init(initFrame()), F.StatusFailed);
  assert.equal(h2.frames[0]![8 + 4], F.OpError);
  assert.equal(broken.init(new Uint8Array(3)), F.StatusFailed);
});

test("async stages are refused: stages are synchronous", () => {
  const m = defineModule("async", (b) => {
    const d = b.depot("d");
    const t = b.stream("t");
    t.source(
      d,
      t.stage("s", async () => {}),
    );
  });
  assert.throws(() => m.build(), /is an async function; stages are synchronous/);
});
