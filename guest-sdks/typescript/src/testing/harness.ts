// The in-memory host: runs a module's stages through the real SDK runtime
// and ABI frames, with the host's partitioning, path semantics, schema
// checks, retries and dead letters. No wasm, no server.

import type { Module } from "../module.js";
import { Depot, PState } from "../module.js";
import { Instance, type Host } from "../runtime.js";
import * as F from "../frames.js";
import { encodePure, decodePure, utf8EncodeLossy } from "../msgpack.js";
import { errnoName } from "../frames.js";
import { Path } from "../path.js";
import { keyPartition } from "../partition.js";
import { formatValue } from "../text.js";
import { checkDefinition } from "../defcheck.js";
import { decodeEffects, encodeBatch, encodeInit, encodeResponse, type Effect, type HostItem } from "./hostframes.js";
import { parseSchema, t, type HSchema } from "./schema.js";
import { EnginePathError, pathSteps, selectValue, transformValue, type Step } from "./engine.js";
import { aggregate, aggregateAt, AggregateError } from "./aggregate.js";
import { InvokeError } from "../errors.js";
import { path as newPath } from "../path.js";
import { entries, keyId, mapGet, mkMap, shortValue, isNil } from "./values.js";

export interface HarnessOptions {
  /** Partitions of the module (default 4). */
  partitions?: number;
  /** Items per batch (default 16). */
  batchSize?: number;
  /** Failed deliveries after which an item is dead-lettered (default 8, as the host). */
  maxAttempts?: number;
  /** Seeds random partitioners, shuffle hops and batch seeds. */
  seed?: number;
  /** The first batch time, Unix nanoseconds (default 2023-11-14T22:13:20Z); each batch adds 1 ms. */
  startTime?: bigint;
  /** Queue appends without processing them; call run(). */
  manual?: boolean;
  /** Print logs with console.log (default false: read them with logs()). */
  verbose?: boolean;
  /** The first time of the harness's clock for tick depots, Unix milliseconds (default: startTime). */
  startMillis?: number;
}

/** A dead-lettered item. */
export interface DeadLetter {
  topology: string;
  stage: string;
  partition: number;
  kind: "record" | "hop";
  depot: string;
  offset: number;
  input: unknown;
  attempts: number;
  error: { kind: string; message: string; stack: string };
}

export interface LogLine {
  level: "DEBUG" | "INFO" | "WARN" | "ERROR";
  text: string;
  topology: string;
  partition: number;
  stage: string;
}

export interface Stats {
  batches: number;
  items: number;
  retries: number;
  deadLetters: number;
  /** Microbatches committed (ABI 1.1). */
  microbatches: number;
  /** Query invocations run, nested ones included (ABI 1.1). */
  invocations: number;
}

interface Root {
  ackReturns: Map<string, unknown>;
}

/** What an append returns: where the record went and, once processed, the topologies' ack returns. */
export class Appended {
  constructor(
    readonly depot: string,
    readonly partition: number,
    readonly offset: number,
    readonly record: unknown,
    private readonly root: Root,
  ) {}
  /** The ack return of a topology (undefined if it emitted none). */
  ackReturn(topology: string): unknown {
    return this.root.ackReturns.get(topology);
  }
  ackReturns(): Record<string, unknown> {
    return Object.fromEntries(this.root.ackReturns);
  }
}

interface Pending extends HostItem {
  root: Root;
  origin: number;
  /** In a microbatch: the source record the item descends from. */
  src?: SrcRef;
}

/** A source record of a microbatch: source index, partition, offset. */
interface SrcRef {
  s: number;
  p: number;
  off: number;
}

interface ItemState {
  started: boolean;
  undoMark: number;
  closed: boolean;
  outcome: number;
  detail: { kind: string; message: string; stack: string };
  rejected?: { kind: string; message: string; stack: string };
  appends: { depot: number; partition: number; ack: number; record: unknown }[];
  hops: { stage: number; partitions: number[]; payload: unknown }[];
  emits: unknown[];
}

type CallKind = "stream" | "microbatch" | "query";

/** A query invocation in progress. */
interface Invocation {
  result: unknown;
  depth: number;
}

interface Call {
  init: boolean;
  define?: Uint8Array;
  kind: CallKind;
  /** The topology's (or the query's) name and stages. */
  tname: string;
  stages: string[];
  inv?: Invocation;
  /** The instance depth: 0 for topologies, 1 + the caller's for invoked queries. */
  depth: number;
  topology: number;
  partition: number;
  items: Pending[];
  state: ItemState[];
  open: number; // the item whose effects may come now
  violation?: string;
  errDetail?: { kind: string; message: string; stack: string };
  parked?: Uint8Array;
  rnd: Rng;
  undo: (() => void)[];
}

/** xorshift64* seeded deterministically. */
class Rng {
  private s: bigint;
  constructor(seed: bigint) {
    this.s = (seed ^ 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn || 1n;
  }
  u64(): bigint {
    let x = this.s;
    x ^= x >> 12n;
    x ^= (x << 25n) & 0xffffffffffffffffn;
    x ^= x >> 27n;
    this.s = x;
    return (x * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
  }
  intN(n: number): number {
    return Number(this.u64() % BigInt(n));
  }
}

interface DefDepot {
  name: string;
  kind: string;
  key?: Step[];
  keyText: string;
}
interface DefPState {
  name: string;
  schema: HSchema;
  global: boolean;
  owner: string;
}
interface DefTopo {
  name: string;
  kind: "stream" | "microbatch";
  maxRecords: number;
  stages: string[];
  sources: { depot: number; stage: number; startFrom: unknown }[];
}
interface DefQuery {
  name: string;
  args: string[];
  stages: string[];
}

/** A microbatch topology's progress. */
interface MBState {
  /** The next microbatch number. */
  next: bigint;
  /** Per source, per partition: the offset where the next microbatch starts. */
  progress: number[][];
  paused: string;
}

const maxQueryDepth = 8;

/** One PState on one partition. */
export class PStore {
  readonly rootMap: boolean;
  entries = new Map<string, [unknown, unknown]>();
  val: unknown = null;
  constructor(readonly s: HSchema) {
    this.rootMap = t(s) === "map";
  }
  value(): unknown {
    if (!this.rootMap) return this.val;
    if (this.entries.size === 0) return null;
    return mkMap([...this.entries.values()]);
  }
  root(steps: Step[]): unknown {
    if (!this.rootMap) return this.val;
    const k = firstKey(steps);
    if (k.found) {
      const e = this.entries.get(keyId(k.key));
      return e ? mkMap([e]) : {};
    }
    return this.value();
  }
  sel(steps: Step[], path: string): unknown[] {
    return selectValue(this.root(steps), this.s, steps, path, true);
  }
  /** Applies a transform; returns its undo (whose redo property applies it again). */
  transform(steps: Step[], path: string): Undo {
    const nv = transformValue(this.root(steps), this.s, steps, path, true);
    if (!this.rootMap) {
      const old = this.val;
      this.val = nv;
      return undo(
        () => (this.val = old),
        () => (this.val = nv),
      );
    }
    const k = firstKey(steps);
    if (k.found) {
      const id = keyId(k.key);
      const old = this.entries.get(id);
      const [v, found] = mapGet(nv, k.key);
      const put = (e: [unknown, unknown] | undefined) => {
        if (e) this.entries.set(id, e);
        else this.entries.delete(id);
      };
      const now: [unknown, unknown] | undefined = found ? [k.key, v] : undefined;
      put(now);
      return undo(
        () => put(old),
        () => put(now),
      );
    }
    if (!isNil(nv) && typeof nv !== "object") throw new Error("the transform replaced the top-level map with " + typeof nv);
    const old = this.entries;
    const next = new Map<string, [unknown, unknown]>();
    if (!isNil(nv)) for (const [kk, vv] of entries(nv)) next.set(keyId(kk), [kk, vv]);
    this.entries = next;
    return undo(
      () => (this.entries = old),
      () => (this.entries = next),
    );
  }
}

/** An undo of a staged write, with its redo. */
type Undo = (() => void) & { redo?: () => void };

function undo(u: () => void, redo: () => void): Undo {
  return Object.assign(u, { redo });
}

function firstKey(steps: Step[]): { found: boolean; key: unknown } {
  if (steps.length > 0 && (steps[0]!.op === 1 || steps[0]!.op === 2)) return { found: true, key: steps[0]!.arg };
  return { found: false, key: null };
}

const levels = ["DEBUG", "INFO", "WARN", "ERROR"] as const;

/**
 * Runs a module in memory:
 *
 *   const h = new Harness(wordcount, { partitions: 4 });
 *   const a = h.append("sentences", { user: "ann", text: "to be or not to be" });
 *   assert.equal(a.ackReturn("wordcount"), 6);
 *   assert.equal(h.selectOne("$$wordCounts", key("be")), 2);
 *
 * Failures of the module itself (an invalid or non-deterministic
 * definition, a call that fails, an ABI violation) throw an Error.
 */
export class Harness {
  readonly tasks: number;
  private readonly opts: Required<Omit<HarnessOptions, "partitions">>;
  private readonly inst: Instance;
  private readonly rnd: Rng;
  private clock: bigint;
  private call: Call | undefined;
  private depotDefs: DefDepot[] = [];
  private pstateDefs: DefPState[] = [];
  private topos: DefTopo[] = [];
  private queries: DefQuery[] = [];
  private mbs = new Map<number, MBState>();
  private readonly mod: Module;
  private insts: Instance[] = [];
  private invocationIds = 0n;
  private nextOrigin = 0;
  private wallMs: number;
  private nextTick = new Map<number, number>();
  private depots: unknown[][][] = [];
  private pstores: PStore[][] = [];
  private queues: Pending[][][] = [];
  private batchIds = new Map<string, bigint>();
  private dead: DeadLetter[] = [];
  private logLines: LogLine[] = [];
  private statsV: Stats = { batches: 0, items: 0, retries: 0, deadLetters: 0, microbatches: 0, invocations: 0 };
  /** The module definition (its ABI value). */
  readonly definition: unknown;

  constructor(mod: Module, opts: HarnessOptions = {}) {
    const partitions = opts.partitions ?? 4;
    if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`Harness: ${partitions} partitions; a module has at least 1`);
    this.tasks = partitions;
    this.opts = {
      batchSize: opts.batchSize ?? 16,
      maxAttempts: Math.max(1, opts.maxAttempts ?? 8),
      seed: opts.seed ?? 0x5eed,
      startTime: opts.startTime ?? 1_700_000_000_000_000_000n,
      manual: opts.manual ?? false,
      verbose: opts.verbose ?? false,
      startMillis: opts.startMillis ?? 0,
    };
    this.rnd = new Rng(BigInt(this.opts.seed));
    this.clock = this.opts.startTime;
    this.wallMs = opts.startMillis ?? Number(this.opts.startTime / 1_000_000n);
    this.mod = mod;
    const host = this.hostFor();
    const describe = new Instance(mod, host);
    const def = this.runInit(describe, F.InitDescribe);
    const v = decodePure(def);
    checkDefinition(v);
    this.definition = v;
    this.parseDefinition(v as Record<string, unknown>);
    this.inst = new Instance(mod, host);
    this.insts = [this.inst];
    const again = this.runInit(this.inst, 0);
    if (keyId(decodePure(again)) !== keyId(v)) {
      throw new Error(`the module's definition is not deterministic: a second instance defined\n${formatValue(decodePure(again))}\nafter\n${formatValue(v)}`);
    }
  }

  private parseDefinition(v: Record<string, unknown>): void {
    this.depotDefs = (v.depots as Record<string, any>[]).map((d) => {
      const dd: DefDepot = { name: d.name, kind: d.partitioner.kind, keyText: "" };
      if (d.partitioner.key !== undefined) {
        const ps = pathSteps(d.partitioner.key, "select");
        dd.key = ps.steps;
        dd.keyText = ps.text;
      }
      return dd;
    });
    this.pstateDefs = (v.pstates as Record<string, any>[]).map((p) => ({
      name: p.name,
      schema: parseSchema(p.schema),
      global: p.global === true,
      owner: typeof p.owner === "string" ? p.owner : "",
    }));
    this.topos = (v.topologies as Record<string, any>[]).map((tp) => ({
      name: tp.name,
      kind: tp.kind === "microbatch" ? "microbatch" : "stream",
      maxRecords: typeof tp.max_records === "number" ? tp.max_records : 1000,
      stages: tp.stages,
      sources: (tp.sources as { depot: string; stage: string; start_from?: unknown }[]).map((s) => ({
        depot: this.depotDefs.findIndex((d) => d.name === s.depot),
        stage: (tp.stages as string[]).indexOf(s.stage),
        startFrom: s.start_from,
      })),
    }));
    this.queries = ((v.queries ?? []) as Record<string, any>[]).map((q) => ({ name: q.name, args: q.args ?? [], stages: q.stages }));
    (v.depots as Record<string, any>[]).forEach((d, i) => {
      if (d.partitioner.kind === "tick") this.nextTick.set(i, this.wallMs + Number(d.partitioner.millis));
    });
    this.depots = this.depotDefs.map(() => Array.from({ length: this.tasks }, () => []));
    this.pstores = this.pstateDefs.map((p) => Array.from({ length: this.tasks }, () => new PStore(p.schema)));
    this.queues = this.topos.map(() => Array.from({ length: this.tasks }, () => []));
    this.topos.forEach((tp, ti) => {
      if (tp.kind !== "microbatch") return;
      // Every depot is empty when the harness starts: "beginning", "end" and
      // any offset (clamped to the records stored) all start at 0.
      this.mbs.set(ti, { next: 0n, progress: tp.sources.map(() => Array.from({ length: this.tasks }, () => 0)), paused: "" });
    });
  }

  private hostFor(): Host {
    return {
      flush: (frame) => this.flush(frame),
      query: (req) => this.hostQuery(req),
      take: () => this.take(),
    };
  }

  private runInit(inst: Instance, flags: number): Uint8Array {
    const c: Call = {
      init: true,
      kind: "stream",
      tname: "",
      stages: [],
      depth: 0,
      topology: 0,
      partition: 0,
      items: [],
      state: [],
      open: 0,
      rnd: this.rnd,
      undo: [],
    };
    const prev = this.call;
    this.call = c;
    const status = inst.init(encodeInit(flags, this.tasks, this.clock, this.rnd.u64()));
    this.call = prev;
    this.endCall(c, "squall_init", status);
    if (!c.define) throw new Error("squall_init returned OK without a DEFINE (an SDK bug)");
    return c.define;
  }

  private endCall(c: Call, what: string, status: number): void {
    if (c.violation) throw new Error(`${what} broke the ABI (an SDK bug): ${c.violation}`);
    if (c.errDetail) {
      const d = c.errDetail;
      const err = new Error(`${what} failed (${d.kind}): ${d.message}${d.stack ? "\n" + d.stack : ""}`);
      throw err;
    }
    if (status !== F.StatusOK) throw new Error(`${what} returned status ${status} without an ERROR (an SDK bug)`);
    if (!c.init) {
      const open = c.state.findIndex((s) => !s.closed);
      if (open >= 0) throw new Error(`${what} returned OK without an OUTCOME for item ${open} (an SDK bug)`);
    }
  }

  // --- the host functions

  private flush(frame: Uint8Array): number {
    const c = this.call;
    if (!c) return -7;
    c.parked = undefined;
    let es: Effect[];
    try {
      es = decodeEffects(frame);
    } catch (e) {
      c.violation = (e as Error).message;
      return -1;
    }
    const rejs: Record<string, unknown>[] = [];
    for (let i = 0; i < es.length; i++) {
      const e = es[i]!;
      const msg = this.orderCheck(c, e);
      if (msg) {
        c.violation = `effect ${i}: ${msg}`;
        return -7;
      }
    }
    es.forEach((e, i) => {
      const r = this.apply(c, i, e);
      if (r) rejs.push(r);
    });
    if (rejs.length === 0) return 0;
    c.parked = encodePure(rejs);
    return rejs.length;
  }

  private orderCheck(c: Call, e: Effect): string {
    if (e.op === F.OpLog || e.op === F.OpError) {
      if (e.item !== F.NoItem && (c.init || e.item >= c.items.length)) return `${e.op === F.OpLog ? "LOG" : "ERROR"} names item ${e.item}`;
      return "";
    }
    if (c.init) {
      if (e.op !== F.OpDefine) return `op ${e.op} in squall_init`;
      if (c.define) return "a second DEFINE";
      return "";
    }
    if (e.op === F.OpDefine) return "DEFINE in squall_process";
    if (e.item !== c.open) return `an effect of item ${e.item} while item ${c.open} is open`;
    if (e.op === F.OpOutcome) c.open++;
    return "";
  }

  private take(): Uint8Array {
    const c = this.call;
    if (!c || !c.parked) throw Object.assign(new Error("nothing parked"), { errno: -2 });
    const p = c.parked;
    c.parked = undefined;
    return p;
  }

  private hostQuery(req: Uint8Array): Uint8Array {
    const c = this.call;
    const fail = (errno: number, msg: string): never => {
      if (c) c.violation = msg;
      throw Object.assign(new Error(msg), { errno });
    };
    if (!c) return fail(-7, "query outside a call");
    c.parked = undefined;
    if (c.init) return fail(-7, "query during squall_init; queries are allowed only in squall_process");
    const v = new DataView(req.buffer, req.byteOffset, req.byteLength);
    if (req.length < 8 || req[0] !== 1 || req[1] !== F.KindQuery || v.getUint16(2, true) !== 0) return fail(-1, "bad query frame header");
    if (req.length > F.MaxQueryFrame) return fail(-4, "query frame too large");
    const count = v.getUint32(4, true);
    const results: { status: number; body: Uint8Array }[] = [];
    let p = 8;
    for (let i = 0; i < count; i++) {
      if (req.length - p < 8) return fail(-1, `query ${i}: truncated`);
      const size = v.getUint32(p, true);
      const op = req[p + 4]!;
      if (op !== F.QuerySelect && op !== F.QuerySelectOne && op !== F.QueryInvoke) return fail(-1, `query ${i}: unknown op ${op}`);
      if (req[p + 5] !== 0) return fail(-1, `query ${i}: reserved flags`);
      const ps = v.getUint16(p + 6, true);
      if (p + 8 + size > req.length) return fail(-1, `query ${i}: body past the frame`);
      let path: unknown;
      try {
        path = decodePure(req, p + 8, p + 8 + size);
      } catch (e) {
        return fail(-1, `query ${i}: ${(e as Error).message}`);
      }
      if (op === F.QueryInvoke) {
        if (!Array.isArray(path)) return fail(-1, `query ${i}: the INVOKE body must be the argument list`);
        results.push(this.invokeFrom(c, ps, path));
      } else results.push(this.runQuery(c, op, ps, path));
      p += 8 + size;
    }
    if (p !== req.length) return fail(-1, "bytes after the last query");
    return encodeResponse(results);
  }

  private runQuery(c: Call, op: number, pi: number, path: unknown): { status: number; body: Uint8Array } {
    const err = (status: number, msg: string) => ({ status, body: utf8EncodeLossy(msg) });
    if (pi >= this.pstateDefs.length) return err(-3, `no PState ${pi}; the module has ${this.pstateDefs.length}`);
    const ps = this.pstateDefs[pi]!;
    let steps: Step[];
    let text: string;
    try {
      ({ steps, text } = pathSteps(path, "select"));
    } catch (e) {
      return err(-9, `PState ${JSON.stringify(ps.name)}: ${(e as Error).message}`);
    }
    const pc = this.partitionCheck(c, pi, steps);
    if (pc) return err(pc.code, pc.msg);
    let vs: unknown[];
    try {
      vs = this.pstores[pi]![c.partition]!.sel(steps, text);
    } catch (e) {
      return err(-9, `PState ${JSON.stringify(ps.name)}: ${(e as Error).message}`);
    }
    if (op === F.QuerySelect) return { status: 0, body: encodePure(vs) };
    if (vs.length === 0) return { status: 1, body: new Uint8Array(0) };
    if (vs.length > 1) return err(-11, `the path navigated to ${vs.length} values; selectOne needs exactly one (use select)`);
    return { status: 0, body: encodePure(vs[0]) };
  }

  /** An INVOKE from a stage: a nested invocation on another instance; the caller's call resumes after it. */
  private invokeFrom(c: Call, qi: number, args: unknown[]): { status: number; body: Uint8Array } {
    if (qi >= this.queries.length) return { status: -3, body: utf8EncodeLossy(`no query ${qi}; the module has ${this.queries.length}`) };
    // The invoked query reads the committed state: set the caller's staged
    // writes (its call's, or its whole microbatch attempt's) aside meanwhile.
    const staged = c.undo.slice() as Undo[];
    for (let i = staged.length - 1; i >= 0; i--) staged[i]!();
    let r: ReturnType<Harness["invoke"]>;
    try {
      r = this.invoke(qi, args, c.depth + 1);
    } finally {
      for (const u of staged) u.redo?.();
      this.call = c;
    }
    if (r.ok) return { status: 0, body: encodePure(r.value) };
    return { status: r.code, body: utf8EncodeLossy(r.message) };
  }

  private ownerCheck(c: Call, pi: number): { code: number; msg: string } | undefined {
    const ps = this.pstateDefs[pi]!;
    if (ps.owner !== "" && ps.owner !== c.tname) {
      return { code: -1, msg: `PState ${JSON.stringify(ps.name)} is owned by topology ${JSON.stringify(ps.owner)}; topology ${JSON.stringify(c.tname)} may read it but not write it` };
    }
    if (ps.owner === "" && c.kind === "microbatch") {
      return {
        code: -1,
        msg: `microbatch topology ${JSON.stringify(c.tname)} may write only the PStates it owns, and PState ${JSON.stringify(ps.name)} has no owner; declare it with Topology.pstate`,
      };
    }
    return undefined;
  }

  private aggregateEffect(c: Call, e: Effect): { code: number; msg: string } | undefined {
    const keys = e.key as unknown[];
    const n = e.n ?? 0;
    if (e.target === F.QueryResultTarget) {
      if (!c.inv) return { code: -3, msg: "AGGREGATE into the query result (target 0xFFFF) is allowed only in a query topology" };
      try {
        c.inv.result = aggregateAt(c.inv.result, keys, e.flags, e.value, n);
      } catch (err) {
        if (err instanceof AggregateError) return { code: -1, msg: err.message };
        throw err;
      }
      return undefined;
    }
    if (c.kind === "query") return { code: -1, msg: "query topologies are read-only: AGGREGATE into a PState is not allowed; aggregate into the result" };
    if (e.target >= this.pstateDefs.length) return { code: -3, msg: `no PState ${e.target}; the module has ${this.pstateDefs.length}` };
    const oc = this.ownerCheck(c, e.target);
    if (oc) return oc;
    const ps = this.pstateDefs[e.target]!;
    if (keys.length === 0 && t(ps.schema) === "map") {
      return { code: -1, msg: `PState ${JSON.stringify(ps.name)} is a map: AGGREGATE needs a key path starting with its top-level key` };
    }
    let p = newPath();
    try {
      for (const k of keys) p = p.key(k);
    } catch (err) {
      return { code: -1, msg: (err as Error).message };
    }
    const { steps, text } = pathSteps(p.steps, "select");
    const pc = this.partitionCheck(c, e.target, steps);
    if (pc) return pc;
    let nv: unknown;
    try {
      const cur = this.pstores[e.target]![c.partition]!.sel(steps, text);
      nv = aggregate(e.flags, cur.length > 0 ? cur[0] : null, e.value, n);
    } catch (err) {
      if (err instanceof AggregateError || err instanceof EnginePathError) return { code: -1, msg: `PState ${JSON.stringify(ps.name)}: ${err.message}` };
      throw err;
    }
    return this.transform(c, e.target, p.set(nv).steps);
  }

  private partitionCheck(c: Call, pi: number, steps: Step[]): { code: number; msg: string } | undefined {
    const ps = this.pstateDefs[pi]!;
    if (ps.global) {
      if (c.partition !== 0) {
        return { code: -5, msg: `PState ${JSON.stringify(ps.name)} is global: it lives on partition 0, not ${c.partition}; hop there first (hopGlobal)` };
      }
      return undefined;
    }
    const k = firstKey(steps);
    if (k.found && t(ps.schema) === "map") {
      const p = keyPartition(k.key, this.tasks);
      if (p !== c.partition) return { code: -5, msg: `key ${shortValue(k.key)} belongs to partition ${p}, not ${c.partition}; hop there first` };
    }
    return undefined;
  }

  private apply(c: Call, index: number, e: Effect): Record<string, unknown> | undefined {
    switch (e.op) {
      case F.OpDefine:
        c.define = e.raw!;
        return undefined;
      case F.OpError:
        if (!c.errDetail) c.errDetail = e.detail!;
        return undefined;
      case F.OpLog: {
        const l: LogLine = { level: levels[e.flags]!, text: e.text!, topology: "", partition: 0, stage: "" };
        if (!c.init) {
          l.topology = c.tname;
          l.partition = c.partition;
          if (e.item !== F.NoItem) l.stage = c.stages[c.items[e.item]!.stage]!;
        }
        this.logLines.push(l);
        if (this.opts.verbose) (globalThis as { console?: { log(s: string): void } }).console?.log(`squall ${l.level} ${c.init ? "init" : `${l.topology}/${l.partition} ${l.stage}`}: ${l.text}`);
        return undefined;
      }
    }
    const st = c.state[e.item]!;
    if (!st.started) {
      st.started = true;
      st.undoMark = c.undo.length;
    }
    if (st.rejected) {
      if (e.op === F.OpOutcome) st.closed = true;
      return undefined;
    }
    const reject = (code: number, msg: string) => {
      st.rejected = { kind: "rejected", message: `${errnoName(code)}: ${msg}`, stack: "" };
      this.undoItem(c, st);
      return { effect: index, item: e.item, code, message: msg };
    };
    switch (e.op) {
      case F.OpAppend: {
        if (c.kind === "query") return reject(-1, "query topologies are read-only: APPEND is not allowed");
        if (e.target >= this.depotDefs.length) return reject(-3, `no depot ${e.target}; the module has ${this.depotDefs.length}`);
        const d = this.depotDefs[e.target]!;
        if (d.kind === "tick") return reject(-1, `depot ${JSON.stringify(d.name)} is a tick depot: only the host appends to it`);
        const local = (e.flags & 4) !== 0;
        if (d.kind === "disallow" && !local) return reject(-1, `depot ${JSON.stringify(d.name)} is disallow: topologies append to it only with local: true`);
        const p = local ? c.partition : this.route(d, e.value, c.rnd);
        st.appends.push({ depot: e.target, partition: p, ack: e.flags & 3, record: e.value });
        return undefined;
      }
      case F.OpHop: {
        if (e.target >= c.stages.length) return reject(-3, `topology ${JSON.stringify(c.tname)} has no stage ${e.target}`);
        let parts: number[];
        switch (e.flags) {
          case F.HopHash:
            parts = [keyPartition(e.key, this.tasks)];
            break;
          case F.HopAll:
            parts = Array.from({ length: this.tasks }, (_, i) => i);
            break;
          case F.HopGlobal:
            parts = [0];
            break;
          case F.HopOrigin:
            parts = [c.items[e.item]!.origin];
            break;
          case F.HopShuffle:
            parts = [c.rnd.intN(this.tasks)];
            break;
          default:
            if (e.partition! >= this.tasks) return reject(-5, `partition ${e.partition} does not exist; the module has ${this.tasks}`);
            parts = [e.partition!];
        }
        st.hops.push({ stage: e.target, partitions: parts, payload: e.value });
        return undefined;
      }
      case F.OpTransform: {
        if (c.kind === "query") return reject(-1, "query topologies are read-only: TRANSFORM is not allowed");
        if (e.target >= this.pstateDefs.length) return reject(-3, `no PState ${e.target}; the module has ${this.pstateDefs.length}`);
        const oc = this.ownerCheck(c, e.target);
        if (oc) return reject(oc.code, oc.msg);
        const r = this.transform(c, e.target, e.value);
        return r ? reject(r.code, r.msg) : undefined;
      }
      case F.OpAggregate: {
        const r = this.aggregateEffect(c, e);
        return r ? reject(r.code, r.msg) : undefined;
      }
      case F.OpEmit:
        if (e.target === F.StreamQueryResult) {
          if (!c.inv) return reject(-1, "EMIT on QUERY_RESULT is allowed only in a query topology");
          c.inv.result = e.value;
          return undefined;
        }
        if (e.target !== F.StreamAckReturn) return reject(-3, `no emit stream ${e.target}; ABI 1.1 has 0 (ACK_RETURN) and 1 (QUERY_RESULT)`);
        if (c.kind === "query") return reject(-1, "EMIT on ACK_RETURN is not allowed in a query topology; use the result");
        st.emits.push(e.value);
        return undefined;
      case F.OpOutcome:
        st.closed = true;
        st.outcome = e.flags;
        if (e.detail) st.detail = e.detail;
        if (e.flags !== F.OutcomeOK) this.undoItem(c, st);
        return undefined;
    }
    return undefined;
  }

  private undoItem(c: Call, st: ItemState): void {
    for (let i = c.undo.length - 1; i >= st.undoMark; i--) c.undo[i]!();
    c.undo.length = st.undoMark;
    st.appends = [];
    st.hops = [];
    st.emits = [];
  }

  private transform(c: Call, pi: number, path: unknown): { code: number; msg: string } | undefined {
    const ps = this.pstateDefs[pi]!;
    let steps: Step[];
    let text: string;
    try {
      ({ steps, text } = pathSteps(path, "transform"));
    } catch (e) {
      return { code: -9, msg: `PState ${JSON.stringify(ps.name)}: ${(e as Error).message}` };
    }
    const pc = this.partitionCheck(c, pi, steps);
    if (pc) return pc;
    try {
      c.undo.push(this.pstores[pi]![c.partition]!.transform(steps, text));
    } catch (e) {
      const schema = e instanceof EnginePathError && e.schema;
      return { code: schema ? -10 : -9, msg: `PState ${JSON.stringify(ps.name)}: ${(e as Error).message}` };
    }
    return undefined;
  }

  private route(d: DefDepot, v: unknown, rnd: Rng): number {
    if (d.kind === "random") return rnd.intN(this.tasks);
    let key = v;
    if (d.key && d.key.length > 0) {
      key = null;
      try {
        const vs = selectValue(v, undefined, d.key, d.keyText, false);
        if (vs.length > 0) key = vs[0];
      } catch {
        key = null;
      }
    }
    return keyPartition(key, this.tasks);
  }

  // --- the client side

  private depotIndex(depot: string | Depot<any>): number {
    const name = typeof depot === "string" ? depot : depot.name;
    const i = this.depotDefs.findIndex((d) => d.name === name);
    if (i < 0) throw new Error(`no depot ${JSON.stringify(name)}; the module declares ${this.depotDefs.map((d) => JSON.stringify(d.name)).join(", ") || "none"}`);
    return i;
  }

  private pstateIndex(ps: string | PState<any, any>): number {
    const name = typeof ps === "string" ? ps : ps.name;
    const i = this.pstateDefs.findIndex((d) => d.name === name);
    if (i < 0) throw new Error(`no PState ${JSON.stringify(name)}; the module declares ${this.pstateDefs.map((d) => JSON.stringify(d.name)).join(", ") || "none"}`);
    return i;
  }

  /** Appends a record as a client would (with ACK), then processes everything it causes (unless manual). */
  append<R>(depot: string | Depot<R>, record: R): Appended {
    const di = this.depotIndex(depot);
    const d = this.depotDefs[di]!;
    if (d.kind === "disallow") throw new Error(`depot ${JSON.stringify(d.name)} is disallow: only its topologies append to it (with local: true)`);
    if (d.kind === "tick") throw new Error(`depot ${JSON.stringify(d.name)} is a tick depot: only the host appends to it (advance the clock with advance(ms))`);
    const v = decodePure(encodePure(record));
    const p = this.route(d, v, this.rnd);
    const root: Root = { ackReturns: new Map() };
    const off = this.appendRecord(di, p, v, root);
    if (!this.opts.manual) this.run();
    return new Appended(d.name, p, off, v, root);
  }

  private appendRecord(depot: number, partition: number, v: unknown, root: Root): number {
    const recs = this.depots[depot]![partition]!;
    const off = recs.length;
    recs.push(v);
    const payload = encodePure(v);
    this.topos.forEach((tp, ti) => {
      if (tp.kind === "microbatch") return; // it reads the depot in its next microbatch
      for (const src of tp.sources) {
        if (src.depot !== depot) continue;
        this.queues[ti]![partition]!.push({
          kind: F.ItemRecord,
          stage: src.stage,
          depot,
          attempt: 0,
          sourcePartition: partition,
          offset: BigInt(off),
          eventTime: this.clock,
          payload,
          root,
          origin: partition,
        });
      }
    });
    return off;
  }

  /**
   * Processes queued records and hops until nothing is left: stream
   * batches, and microbatches (ABI 1.1) of the records appended since the
   * last one, one microbatch per topology at a time, each covering at most
   * max_records records of each source and partition.
   */
  run(): void {
    for (let n = 0; ; ) {
      let progressed = false;
      for (let p = 0; p < this.tasks; p++) {
        for (let ti = 0; ti < this.queues.length; ti++) {
          const q = this.queues[ti]![p]!;
          if (q.length === 0) continue;
          const batch = q.splice(0, this.opts.batchSize);
          this.process(ti, p, batch);
          progressed = true;
          if (++n > 200_000) throw new Error("the topologies did not settle after 200000 batches; does a stage hop in a loop?");
        }
      }
      if (progressed) continue;
      for (const ti of this.mbs.keys()) if (this.microbatch(ti)) progressed = true;
      if (!progressed) return;
    }
  }

  private newCall(kind: CallKind, ti: number, p: number, items: Pending[], seed: bigint, undo: (() => void)[], depth: number, inv?: Invocation): Call {
    const def = kind === "query" ? this.queries[ti]! : this.topos[ti]!;
    return {
      init: false,
      kind,
      tname: def.name,
      stages: def.stages,
      depth,
      inv,
      topology: ti,
      partition: p,
      items,
      open: 0,
      state: items.map(() => ({
        started: false,
        undoMark: 0,
        closed: false,
        outcome: 0,
        detail: { kind: "", message: "", stack: "" },
        appends: [],
        hops: [],
        emits: [],
      })),
      rnd: new Rng(seed),
      undo,
    };
  }

  /** The instance for calls at an invocation depth (a nested query runs while its caller's call is open). */
  private instance(depth: number): Instance {
    while (this.insts.length <= depth) {
      const inst = new Instance(this.mod, this.hostFor());
      this.runInit(inst, 0);
      this.insts.push(inst);
    }
    return this.insts[depth]!;
  }

  /** Runs one call; throws when the call failed or broke the ABI (after undoing its writes). */
  private runCall(c: Call, frame: Uint8Array, what: string): void {
    const inst = this.instance(c.depth);
    const prev = this.call;
    this.call = c;
    const status = inst.process(frame);
    this.call = prev;
    if (c.violation || c.errDetail || status !== F.StatusOK) for (let i = c.undo.length - 1; i >= 0; i--) c.undo[i]!();
    this.endCall(c, what, status);
    this.statsV.batches++;
    this.statsV.items += c.items.length;
  }

  /** The outcome of item i of a finished call, a rejection counting as POISON. */
  private outcomeOf(c: Call, i: number): { out: number; d: { kind: string; message: string; stack: string } } {
    const st = c.state[i]!;
    if (st.rejected) return { out: F.OutcomePoison, d: st.rejected };
    return { out: st.outcome, d: st.detail };
  }

  private hopItems(c: Call, it: Pending, h: { stage: number; partitions: number[]; payload: unknown }, push: (dest: number, p: Pending) => void): void {
    const payload = encodePure(h.payload);
    for (const dest of h.partitions) {
      push(dest, {
        kind: F.ItemHop,
        stage: h.stage,
        depot: F.NoDepot,
        attempt: 0,
        sourcePartition: c.partition,
        offset: 0n,
        eventTime: this.clock,
        payload,
        root: it.root,
        origin: it.origin,
        src: it.src,
      });
    }
  }

  /**
   * Runs the next microbatch of a microbatch topology, if it has records:
   * all or nothing, retried (same number, ranges, time and seed) after a
   * failure, without a source record whose item was poisoned (that record
   * is dead-lettered), and paused after maxAttempts failed attempts.
   */
  private microbatch(ti: number): boolean {
    const st = this.mbs.get(ti)!;
    const tp = this.topos[ti]!;
    if (st.paused) return false;
    const ranges = tp.sources.map((src, s) =>
      Array.from({ length: this.tasks }, (_, p) => {
        const from = st.progress[s]![p]!;
        return [from, Math.min(this.depots[src.depot]![p]!.length, from + tp.maxRecords)] as [number, number];
      }),
    );
    if (ranges.every((rs) => rs.every(([a, b]) => a === b))) return false;
    const n = st.next;
    this.clock += 1_000_000n;
    const time = this.clock;
    const seed = this.rnd.u64();
    const excluded = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const r = this.attemptMicrobatch(ti, n, ranges, excluded, attempt, time, seed);
      if (r.ok) {
        for (const a of r.appends) this.appendRecord(a.depot, a.partition, a.record, { ackReturns: new Map() });
        ranges.forEach((rs, s) => rs.forEach(([, b], p) => (st.progress[s]![p] = b)));
        st.next = n + 1n;
        this.statsV.microbatches++;
        return true;
      }
      if (r.poison) {
        const { src, d, stage } = r.poison;
        excluded.add(`${src.s}/${src.p}/${src.off}`);
        const source = tp.sources[src.s]!;
        this.statsV.deadLetters++;
        this.dead.push({
          topology: tp.name,
          stage,
          partition: src.p,
          kind: "record",
          depot: this.depotDefs[source.depot]!.name,
          offset: src.off,
          input: this.depots[source.depot]![src.p]![src.off],
          attempts: attempt + 1,
          error: { ...d },
        });
        continue;
      }
      this.statsV.retries++;
      if (attempt + 1 >= this.opts.maxAttempts) {
        st.paused = `microbatch ${n} failed ${attempt + 1} times and the topology is paused; nothing of it was applied: ${r.error}`;
        if (this.opts.verbose) (globalThis as { console?: { log(s: string): void } }).console?.log(`squall: topology ${JSON.stringify(tp.name)} paused: ${st.paused}`);
        return false;
      }
    }
  }

  private attemptMicrobatch(
    ti: number,
    n: bigint,
    ranges: [number, number][][],
    excluded: Set<string>,
    attempt: number,
    time: bigint,
    seed: bigint,
  ):
    | { ok: true; appends: { depot: number; partition: number; record: unknown }[] }
    | { ok: false; poison?: { src: SrcRef; d: { kind: string; message: string; stack: string }; stage: string }; error: string } {
    const tp = this.topos[ti]!;
    const undo: (() => void)[] = [];
    const undoAll = () => {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
    };
    const queues: Pending[][] = Array.from({ length: this.tasks }, () => []);
    const att = Math.min(attempt, 0xffff);
    tp.sources.forEach((src, s) => {
      for (let p = 0; p < this.tasks; p++) {
        const [a, b] = ranges[s]![p]!;
        for (let off = a; off < b; off++) {
          if (excluded.has(`${s}/${p}/${off}`)) continue;
          queues[p]!.push({
            kind: F.ItemRecord,
            stage: src.stage,
            depot: src.depot,
            attempt: att,
            sourcePartition: p,
            offset: BigInt(off),
            eventTime: time,
            payload: encodePure(this.depots[src.depot]![p]![off]),
            root: { ackReturns: new Map() },
            origin: p,
            src: { s, p, off },
          });
        }
      }
    });
    const appends: { depot: number; partition: number; record: unknown }[] = [];
    for (let delivered = 0; ; ) {
      let pending = false;
      for (let p = 0; p < this.tasks; p++) {
        const q = queues[p]!;
        while (q.length > 0) {
          pending = true;
          const chunk = q.splice(0, this.opts.batchSize).map((it) => ({ ...it, attempt: att }));
          delivered += chunk.length;
          if (delivered > 4_000_000) {
            undoAll();
            return { ok: false, error: "the microbatch delivered more than 4000000 items; is there a hop loop?" };
          }
          const c = this.newCall("microbatch", ti, p, chunk, seed, undo, 0);
          const frame = encodeBatch({ batchId: n, partition: p, topology: ti, time, seed, attempt }, chunk);
          this.runCall(c, frame, `squall_process (microbatch topology ${JSON.stringify(tp.name)}, microbatch ${n}, partition ${p})`);
          for (let i = 0; i < chunk.length; i++) {
            const it = chunk[i]!;
            const { out, d } = this.outcomeOf(c, i);
            if (out === F.OutcomePoison) {
              undoAll();
              return { ok: false, poison: { src: it.src!, d, stage: tp.stages[tp.sources[it.src!.s]!.stage]! }, error: d.message };
            }
            if (out !== F.OutcomeOK) {
              undoAll();
              return { ok: false, error: `stage ${tp.stages[it.stage]} on partition ${p}: ${d.kind ? d.kind + ": " : ""}${d.message}` };
            }
            const stt = c.state[i]!;
            for (const a of stt.appends) appends.push({ depot: a.depot, partition: a.partition, record: a.record });
            for (const h of stt.hops) this.hopItems(c, it, h, (dest, x) => queues[dest]!.push(x));
            // EMIT on ACK_RETURN is accepted and ignored in a microbatch.
          }
        }
      }
      if (!pending) return { ok: true, appends };
    }
  }

  /** Runs a query invocation (ABI 1.1): the entry stage on an origin partition, then its hops; its result or an error. */
  private invoke(qi: number, args: unknown[], depth: number): { ok: true; value: unknown } | { ok: false; code: number; message: string } {
    const q = this.queries[qi]!;
    const fail = (code: number, message: string) => ({ ok: false as const, code, message });
    if (args.length !== q.args.length) {
      return fail(-1, `query ${q.name} takes ${q.args.length} arguments (${q.args.join(", ")}); got ${args.length}`);
    }
    if (depth > maxQueryDepth) return fail(-1, `queries invoked from queries nest deeper than ${maxQueryDepth}`);
    this.statsV.invocations++;
    const id = ++this.invocationIds;
    const origin = this.nextOrigin++ % this.tasks;
    this.clock += 1_000_000n;
    const time = this.clock;
    const seed = this.rnd.u64();
    const inv: Invocation = { result: null, depth };
    const queues: Pending[][] = Array.from({ length: this.tasks }, () => []);
    queues[origin]!.push({
      kind: F.ItemInvoke,
      stage: 0,
      depot: F.NoDepot,
      attempt: 0,
      sourcePartition: origin,
      offset: 0n,
      eventTime: time,
      payload: encodePure(args),
      root: { ackReturns: new Map() },
      origin,
    });
    for (let delivered = 0; ; ) {
      let pending = false;
      for (let p = 0; p < this.tasks; p++) {
        const qu = queues[p]!;
        while (qu.length > 0) {
          pending = true;
          // The INVOKE item is alone in its batch (it must be the first item).
          const chunk = qu[0]!.kind === F.ItemInvoke ? qu.splice(0, 1) : qu.splice(0, this.opts.batchSize);
          delivered += chunk.length;
          if (delivered > 4_000_000) return fail(-13, "the invocation delivered more than 4000000 items; is there a hop loop?");
          const c = this.newCall("query", qi, p, chunk, seed, [], depth, inv);
          const frame = encodeBatch({ batchId: id, partition: p, topology: qi, time, seed, flags: F.BatchQuery }, chunk);
          this.runCall(c, frame, `squall_process (query ${JSON.stringify(q.name)}, partition ${p})`);
          for (let i = 0; i < chunk.length; i++) {
            const { out, d } = this.outcomeOf(c, i);
            if (out !== F.OutcomeOK) {
              return fail(-13, `stage ${q.stages[chunk[i]!.stage]} on partition ${p}: ${d.kind ? d.kind + ": " : ""}${d.message}`);
            }
            for (const h of c.state[i]!.hops) this.hopItems(c, chunk[i]!, h, (dest, x) => queues[dest]!.push(x));
          }
        }
      }
      if (!pending) return { ok: true, value: decodePure(encodePure(inv.result)) };
    }
  }

  /**
   * Invokes a query topology as a client would (ABI 1.1) and returns its
   * result; a failure throws InvokeError with the host's errno and
   * message (EINVAL: wrong arguments; EFAILED: a stage failed).
   */
  query<R = unknown>(name: string, args: unknown[] = []): R {
    const qi = this.queries.findIndex((q) => q.name === name);
    if (qi < 0) throw new Error(`no query ${JSON.stringify(name)}; the module declares ${this.queries.map((q) => JSON.stringify(q.name)).join(", ") || "none"}`);
    const r = this.invoke(qi, decodePure(encodePure(args)) as unknown[], 1);
    if (!r.ok) throw new InvokeError(name, r.code, r.message);
    return r.value as R;
  }

  /**
   * Advances the clock of tick depots (ABI 1.1) by ms milliseconds: every
   * tick that falls due is appended (its time, Unix milliseconds, on
   * partition 0) and processed (unless manual).
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`advance: ${ms} ms; give a duration >= 0`);
    this.wallMs += ms;
    for (const [di, due] of this.nextTick) {
      const d = (this.definition as { depots: { partitioner: { millis: number } }[] }).depots[di]!;
      let next = due;
      for (; next <= this.wallMs; next += Number(d.partitioner.millis)) this.appendRecord(di, 0, next, { ackReturns: new Map() });
      this.nextTick.set(di, next);
    }
    if (!this.opts.manual) this.run();
  }

  /** Why a microbatch topology paused (its microbatch failed maxAttempts times), or undefined if it runs. */
  paused(topology: string): string | undefined {
    const ti = this.topos.findIndex((tp) => tp.name === topology);
    if (ti < 0 || !this.mbs.has(ti)) throw new Error(`paused: no microbatch topology ${JSON.stringify(topology)}`);
    return this.mbs.get(ti)!.paused || undefined;
  }

  private process(ti: number, p: number, items: Pending[]): void {
    const id = `${ti}/${p}`;
    const batchId = (this.batchIds.get(id) ?? 0n) + 1n;
    this.batchIds.set(id, batchId);
    this.clock += 1_000_000n;
    const seed = this.rnd.u64();
    const frame = encodeBatch({ batchId, partition: p, topology: ti, time: this.clock, seed }, items);
    const c: Call = {
      init: false,
      kind: "stream",
      tname: this.topos[ti]!.name,
      stages: this.topos[ti]!.stages,
      depth: 0,
      topology: ti,
      partition: p,
      items,
      open: 0,
      state: items.map(() => ({
        started: false,
        undoMark: 0,
        closed: false,
        outcome: 0,
        detail: { kind: "", message: "", stack: "" },
        appends: [],
        hops: [],
        emits: [],
      })),
      rnd: new Rng(seed),
      undo: [],
    };
    this.call = c;
    const status = this.inst.process(frame);
    this.call = undefined;
    if (c.violation || c.errDetail || status !== F.StatusOK) for (let i = c.undo.length - 1; i >= 0; i--) c.undo[i]!();
    this.endCall(c, `squall_process (topology ${JSON.stringify(this.topos[ti]!.name)}, partition ${p})`, status);
    this.statsV.batches++;
    this.statsV.items += items.length;
    this.commit(c);
  }

  private commit(c: Call): void {
    const tp = this.topos[c.topology]!;
    c.items.forEach((it, i) => {
      const st = c.state[i]!;
      let out = st.outcome;
      let d = st.detail;
      if (st.rejected) {
        out = F.OutcomePoison;
        d = st.rejected;
      }
      if (out === F.OutcomeOK) {
        for (const a of st.appends) {
          const r = a.ack === 2 ? it.root : { ackReturns: new Map() };
          this.appendRecord(a.depot, a.partition, a.record, r);
        }
        for (const h of st.hops) {
          const payload = encodePure(h.payload);
          for (const dest of h.partitions) {
            this.queues[c.topology]![dest]!.push({
              kind: F.ItemHop,
              stage: h.stage,
              depot: F.NoDepot,
              attempt: 0,
              sourcePartition: c.partition,
              offset: 0n,
              eventTime: this.clock,
              payload,
              root: it.root,
              origin: it.origin,
            });
          }
        }
        for (const v of st.emits) it.root.ackReturns.set(tp.name, v);
      } else if (out === F.OutcomePoison) {
        this.deadLetter(c, it, d);
      } else {
        this.statsV.retries++;
        if (it.attempt + 1 >= this.opts.maxAttempts) {
          this.deadLetter(c, it, { ...d, message: `${d.message} (after ${it.attempt + 1} attempts)` });
          return;
        }
        this.queues[c.topology]![c.partition]!.push({ ...it, attempt: it.attempt + 1 });
      }
    });
  }

  private deadLetter(c: Call, it: Pending, d: { kind: string; message: string; stack: string }): void {
    const tp = this.topos[c.topology]!;
    this.statsV.deadLetters++;
    this.dead.push({
      topology: tp.name,
      stage: tp.stages[it.stage]!,
      partition: c.partition,
      kind: it.kind === F.ItemRecord ? "record" : "hop",
      depot: it.kind === F.ItemRecord ? this.depotDefs[it.depot]!.name : "",
      offset: Number(it.offset),
      input: decodePure(it.payload),
      attempts: it.attempt + 1,
      error: { ...d },
    });
  }

  // --- inspection

  private route0(pi: number, path: Path | unknown): number {
    const ps = this.pstateDefs[pi]!;
    if (ps.global) return 0;
    const steps = (path instanceof Path ? path.steps : path) as readonly (readonly unknown[])[];
    if (t(ps.schema) === "map" && steps.length > 0 && (steps[0]![0] === 1 || steps[0]![0] === 2)) return keyPartition(steps[0]![1], this.tasks);
    throw new Error(
      `PState ${JSON.stringify(ps.name)}: the path does not start with a key, so it names no partition; use selectPartition(pstate, partition, path)`,
    );
  }

  /** Every value the path navigates to, on the partition that owns its first key (partition 0 for a global PState). */
  select<T = unknown>(ps: string | PState<any, any>, path: Path): T[] {
    const pi = this.pstateIndex(ps);
    return this.selectPartition(ps, this.route0(pi, path), path) as T[];
  }

  /** The one value the path navigates to (undefined: none); throws if it navigates to several. */
  selectOne<T = unknown>(ps: string | PState<any, any>, path: Path): T | undefined {
    const vs = this.select<T>(ps, path);
    if (vs.length > 1) throw new Error(`selectOne: the path navigated to ${vs.length} values`);
    return vs[0];
  }

  /** Every value the path navigates to on one partition; throws the host's error message. */
  selectPartition(ps: string | PState<any, any>, partition: number, path: Path): unknown[] {
    const pi = this.pstateIndex(ps);
    if (partition < 0 || partition >= this.tasks) throw new Error(`partition ${partition} does not exist; the module has ${this.tasks}`);
    const { steps, text } = pathSteps(path.steps, "select");
    const vs = this.pstores[pi]![partition]!.sel(steps, text);
    return decodePure(encodePure(vs)) as unknown[];
  }

  /** The whole PState on one partition (a top-level map as a map, else the value), as the storage holds it. */
  pstate(ps: string | PState<any, any>, partition: number): unknown {
    const pi = this.pstateIndex(ps);
    return decodePure(encodePure(this.pstores[pi]![partition]!.value()));
  }

  /** The records of a depot partition, in order. */
  depot(depot: string | Depot<any>, partition: number): unknown[] {
    return this.depots[this.depotIndex(depot)]![partition]!.slice();
  }

  /** The partition that owns a key (the host's hashing). */
  keyPartition(k: unknown): number {
    return keyPartition(k, this.tasks);
  }

  /** The partitions of the module. */
  get partitions(): number {
    return this.tasks;
  }

  deadLetters(): DeadLetter[] {
    return this.dead.slice();
  }

  logs(): LogLine[] {
    return this.logLines.slice();
  }

  stats(): Stats {
    return { ...this.statsV };
  }
}

