// The TypeScript version of the conformance module: one module with a
// topology per behaviour of docs/conformance.md. Its twins in ../go and
// ../rust must behave identically, byte for byte (same names, same order of
// declarations, same paths, same messages).

import {
  defineModule,
  hashBy,
  key,
  PoisonError,
  QueryError,
  quote,
  schema as S,
  type Ctx,
  type Path,
  type PState,
  type RangeOpts,
  type Value,
} from "@squall/sdk";

type Rec = Record<string, Value>;

/** A string field of a record ("" when absent or not a string). */
function str(r: unknown, name: string): string {
  const v = field(r, name);
  return typeof v === "string" ? v : "";
}

/** A field of a map record (null when absent). */
function field(r: unknown, name: string): unknown {
  if (r === null || typeof r !== "object" || Array.isArray(r) || r instanceof Uint8Array || r instanceof Set) return null;
  if (r instanceof Map) return r.has(name) ? r.get(name) : null;
  return Object.prototype.hasOwnProperty.call(r, name) ? (r as Rec)[name] : null;
}

/** An int field or list item as a number (0 when absent or not an int). */
function int(v: unknown): number {
  if (typeof v === "bigint") return Number(v);
  return typeof v === "number" && Number.isSafeInteger(v) && !Object.is(v, -0) ? v : 0;
}

/** selectOne that fails the item when the path navigates to nothing (like Go's ErrNotFound). */
function one(ctx: Ctx, ps: PState<any, any>, p: Path): Value {
  const v = ctx.selectOne(ps, p);
  if (v === undefined) throw new Error("squall: selectOne: the path navigated to no value");
  return v;
}

export default defineModule("conformance", (m) => {
  const byName = m.depot("values", hashBy(key("name")));
  const paths = m.depot("paths", hashBy(key("k")));
  const hops = m.depot("hops", hashBy(key("k")));
  const fails = m.depot("fails", hashBy(key("k")));
  const rws = m.depot("rw", hashBy(key("k")));

  const values = m.pstate("$$values", S.mapOf(S.string, S.any));
  const docs = m.pstate("$$docs", S.mapOf(S.string, S.any));
  const sub = m.pstate("$$sub", S.mapOf(S.string, S.mapOf(S.string, S.int).subindexed()));
  const subl = m.pstate("$$subl", S.mapOf(S.string, S.listOf(S.int).subindexed()));
  const subs = m.pstate("$$subs", S.mapOf(S.string, S.setOf(S.string).subindexed()));
  const ran = m.pstate("$$ran", S.record({ seen: S.mapOf(S.string, S.int).subindexed() }));
  const attempts = m.pstate("$$attempts", S.mapOf(S.string, S.int));
  const rw = m.pstate("$$rw", S.mapOf(S.string, S.any));

  // (a, f, g) values: store each record's value under its name, emit it back.
  const tv = m.stream("values");
  const store = tv.stage("store", (ctx, r) => {
    const v = field(r, "value");
    ctx.transform(values, key(str(r, "name")).set(v));
    ctx.emit(v);
  });
  tv.source(byName, store);

  // (b) paths: every navigator and terminal, inline and subindexed.
  const tp = m.stream("paths");
  const pst = tp.stage("paths", (ctx, r) => {
    const k = str(r, "k");
    switch (str(r, "op")) {
      case "setup":
        return setup(ctx, k);
      case "query":
        return query(ctx, k);
      case "mutate":
        return mutate(ctx, k);
    }
    throw new PoisonError(`unknown op ${quote(str(r, "op"))}`);
  });
  tp.source(paths, pst);

  function setup(ctx: Ctx, k: string): void {
    const doc = {
      m: { a: 1, b: 2, c: 3, d: 4 },
      l: [5, 1, 4, 2, 3],
      s: new Set(["x", "y", "z"]),
      f: 1.5,
      n: 10,
    };
    const ops: [PState<any, any>, Path][] = [
      [docs, key(k).set(doc)],
      [subl, key(k).append(10, 20, 30, 40)],
      [subs, key(k).append("p", "q", "r")],
    ];
    ["a", "b", "c", "d", "e", "f"].forEach((name, i) => ops.push([sub, key(k).key(name).set(i + 1)]));
    for (const [ps, p] of ops) ctx.transform(ps, p);
    ctx.emit("ok");
  }

  function query(ctx: Ctx, k: string): void {
    const d = key(k);
    const s = key(k);
    const l = key(k);
    const t = key(k);
    const incl: RangeOpts = { excludeFrom: true, includeTo: true };
    const rev: RangeOpts = { reverse: true, limit: 2 };
    const qs: [string, PState<any, any>, Path][] = [
      ["d.whole", docs, d],
      ["d.key", docs, d.key("m").key("a")],
      ["d.keyMissing", docs, d.key("m").key("zz")],
      ["d.mustKey", docs, d.mustKey("m").mustKey("b")],
      ["d.mustKeyMissing", docs, d.key("m").mustKey("zz")],
      ["d.all.m", docs, d.key("m").all()],
      ["d.all.l", docs, d.key("l").all()],
      ["d.all.s", docs, d.key("s").all()],
      ["d.mapVals", docs, d.key("m").mapVals()],
      ["d.mapKeys", docs, d.key("m").mapKeys()],
      ["d.first.l", docs, d.key("l").first()],
      ["d.last.l", docs, d.key("l").last()],
      ["d.nth.l", docs, d.key("l").nth(2)],
      ["d.nthOut.l", docs, d.key("l").nth(9)],
      ["d.first.m", docs, d.key("m").first()],
      ["d.last.m", docs, d.key("m").last()],
      ["d.first.s", docs, d.key("s").first()],
      ["d.sorted.m", docs, d.key("m").sortedRange("b", "d")],
      ["d.sortedOpts.m", docs, d.key("m").sortedRange("a", "c", incl)],
      ["d.sortedRev.m", docs, d.key("m").sortedRange("a", "z", rev).mapKeys()],
      ["d.sorted.s", docs, d.key("s").sortedRange("x", "z")],
      ["d.filter.eq", docs, d.key("l").all().filter("eq", 4)],
      ["d.filter.ne", docs, d.key("l").all().filter("ne", 4)],
      ["d.filter.lt", docs, d.key("l").all().filter("lt", 3)],
      ["d.filter.le", docs, d.key("l").all().filter("le", 3)],
      ["d.filter.gt", docs, d.key("l").all().filter("gt", 3)],
      ["d.filter.ge", docs, d.key("l").all().filter("ge", 3.5)],
      ["d.filter.exists", docs, d.key("m").mapVals().filterExists()],
      ["d.nilToVal", docs, d.key("zz").nilToVal("dflt")],
      ["d.size.m", docs, d.key("m").view("size")],
      ["d.size.l", docs, d.key("l").view("size")],
      ["d.size.s", docs, d.key("s").view("size")],
      ["d.size.int", docs, d.key("n").view("size")],
      ["d.count.n", docs, d.key("n").view("count")],
      ["d.count.missing", docs, d.key("zz").view("count")],
      ["s.key", sub, s.key("c")],
      ["s.mustKey", sub, s.mustKey("d")],
      ["s.all", sub, s.all()],
      ["s.mapVals", sub, s.mapVals()],
      ["s.mapKeys", sub, s.mapKeys()],
      ["s.first", sub, s.first()],
      ["s.last", sub, s.last()],
      ["s.sorted", sub, s.sortedRange("b", "e")],
      ["s.sortedOpts", sub, s.sortedRange("b", "e", incl)],
      ["s.sortedRev", sub, s.sortedRange("a", "z", rev)],
      ["s.filter", sub, s.mapVals().filter("gt", 3)],
      ["s.size", sub, s.view("size")],
      ["s.count", sub, s.view("count")],
      ["s.nilToVal", sub, s.key("zz").nilToVal(-1)],
      ["l.all", subl, l.all()],
      ["l.first", subl, l.first()],
      ["l.last", subl, l.last()],
      ["l.nth", subl, l.nth(1)],
      ["l.size", subl, l.view("size")],
      ["l.filter", subl, l.all().filter("le", 20)],
      ["t.all", subs, t.all()],
      ["t.first", subs, t.first()],
      ["t.last", subs, t.last()],
      ["t.size", subs, t.view("size")],
      ["t.sorted", subs, t.sortedRange("p", "r")],
      ["t.filter", subs, t.all().filter("ne", "q")],
    ];
    const out: Rec = {};
    for (const [label, ps, p] of qs) {
      let r: Value;
      try {
        r = ctx.select(ps, p);
      } catch (e) {
        if (!(e instanceof QueryError)) throw e;
        r = "error";
      }
      out[label] = r;
    }
    ctx.emit(out);
  }

  function mutate(ctx: Ctx, k: string): void {
    const d = key(k);
    const merge = { z: 26, a: 0 };
    const ops: [PState<any, any>, Path][] = [
      [docs, d.key("m").key("a").set(100)],
      [docs, d.key("m").key("b").remove()],
      [docs, d.key("n").incr(5)],
      [docs, d.key("f").incrFloat(0.25)],
      [docs, d.key("i").incrFloat(2)],
      [docs, d.key("l").append(6, 7)],
      [docs, d.key("l").prepend(0)],
      [docs, d.key("m").merge(merge)],
      [docs, d.key("s").append("w")],
      [docs, d.key("new").nilToVal(41).incr(1)],
      [docs, d.key("l").all().filter("gt", 4).incr(100)],
      [docs, d.key("m").mapVals().filter("lt", 5).incr(1000)],
      [docs, d.key("l").first().set("head")],
      [docs, d.key("l").last().remove()],
      [sub, d.key("a").incr(10)],
      [sub, d.key("b").remove()],
      [sub, d.merge(merge)],
      [sub, d.mapVals().filter("ge", 5).incr(1000)],
      [sub, d.sortedRange("c", "e").mapVals().incr(-1)],
      [subl, d.append(50, 60)],
      [subl, d.prepend(0)],
      [subl, d.nth(2).set(21)],
      [subl, d.last().remove()],
      [subs, d.append("s2")],
      [subs, d.all().filter("eq", "q").remove()],
    ];
    const res: string[] = [];
    for (const [ps, p] of ops) {
      try {
        ctx.transform(ps, p);
        res.push("ok");
      } catch (e) {
        if (e instanceof Error && e.name === "HostFailedError") throw e;
        res.push("error");
      }
    }
    ctx.emit(res);
  }

  // (c) hops: every partitioner; rec records which partition ran what.
  const th = m.stream("hops");
  const start = th.stage("start", (ctx, r) => {
    const n = int(field(r, "n"));
    const k = field(r, "k");
    const tag = (t: string): [string, number] => [t, n];
    ctx.hop(rec, k, tag("hash"));
    ctx.hop(rec, n * 7 + 1, tag("hashInt"));
    ctx.hopAll(rec, tag("all"));
    ctx.hopGlobal(rec, tag("global"));
    ctx.hopShuffle(rec, tag("shuffle"));
    ctx.hopDirect(rec, n % ctx.partitions, tag("direct"));
    ctx.hopOrigin(rec, tag("originRecord"));
    ctx.hop(mid, `mid-${n}`, n);
    ctx.emit(ctx.partition);
  });
  const mid = th.stage("mid", (ctx, n) => {
    ctx.hopOrigin(rec, ["origin", int(n)]);
  });
  const rec = th.stage<[string, number]>("rec", (ctx, p) => {
    const t = Array.isArray(p) && typeof p[0] === "string" ? p[0] : "";
    const n = Array.isArray(p) ? int(p[1]) : 0;
    const seen = `${t}/${n}/${ctx.partition}`;
    ctx.transform(ran, key("seen").key(seen).set(ctx.sourcePartition));
  });
  th.source(hops, start);

  // (d, e) failures: poison, retryable until attempt 2, always retryable.
  const tf = m.stream("fails");
  const fail = tf.stage("fail", (ctx, r) => {
    const k = str(r, "k");
    switch (str(r, "mode")) {
      case "poison":
        throw new PoisonError(`poisoned ${k}`);
      case "retry":
        if (ctx.attempt < 1) throw new Error("transient failure of " + k); // the first delivery is attempt 0
        break;
      case "always":
        throw new Error("permanent failure of " + k);
      case "badpath":
        ctx.transform(attempts, key(k).append(1)); // append to an int: the host rejects it
        return;
    }
    ctx.transform(attempts, key(k).set(ctx.attempt));
    ctx.emit([k, ctx.attempt]);
  });
  tf.source(fails, fail);

  // (h) read your writes: a stage that writes, reads, writes what it read.
  const tr = m.stream("rw");
  const rws1 = tr.stage("rw", (ctx, r) => {
    const k = str(r, "k");
    ctx.transform(rw, key(k).key("n").nilToVal(0).incr(1));
    const n = one(ctx, rw, key(k).key("n"));
    ctx.transform(rw, key(k).key("seen").append(n));
    ctx.emit(one(ctx, rw, key(k)));
  });
  tr.source(rws, rws1);
});
