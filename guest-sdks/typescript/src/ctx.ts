// Ctx: what a stage can do while it processes one item.

import type { Depot, PState, Query, Stage } from "./module.js";
import { checkAgg, type Agg } from "./agg.js";
import { Path, key as keyPath } from "./path.js";
import * as F from "./frames.js";
import type { Instance } from "./runtime.js";
import type { Value } from "./value.js";
import { InvokeError, PoisonError, QueryError, RejectedError } from "./errors.js";

/** Ack level of an append from a topology: "ack" (default) makes the new record's processing part of the current item's. */
export type AckLevel = "none" | "appendAck" | "ack";

export interface AppendOptions {
  ack?: AckLevel;
  /** Append to the current partition instead of the depot's partitioner (the only way into a disallow depot). */
  local?: boolean;
}

export type LogLevel = "debug" | "info" | "warn" | "error";
const logLevels: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Used-after-return: a Ctx is valid only while its stage runs. */
function done(): never {
  throw new Error("squall: this Ctx belongs to a stage that has returned; a Ctx is valid only during its stage");
}

/** The context of one item: its effects (append, hop, transform, emit, log) and reads (select). */
export class Ctx {
  /** @internal */ readonly inst: Instance;
  /** @internal */ readonly batch: F.BatchFrame;
  /** @internal */ readonly it: F.BatchItem;
  /** @internal */ readonly item: number;
  /** @internal */ readonly stage: Stage<any>;
  /** @internal */ done: boolean;
  /** @internal */ declare rejected: RejectedError | undefined;
  private declare rng: bigint | undefined;

  /** @internal */
  constructor(inst: Instance, batch: F.BatchFrame, it: F.BatchItem, item: number, stage: Stage<any>) {
    // Few own fields: a Ctx is made per item, and object creation is what costs in QuickJS.
    this.inst = inst;
    this.batch = batch;
    this.it = it;
    this.item = item;
    this.stage = stage;
    this.done = false;
  }

  private check(): void {
    if (this.done) done();
    if (this.inst.fatal) throw this.inst.fatal;
    if (this.rejected) throw this.rejected;
  }

  /** The partition this item runs on. */
  get partition(): number {
    return this.batch.partition;
  }
  /** The module's number of partitions. */
  get partitions(): number {
    return this.inst.tasks;
  }
  /** Earlier failed deliveries of this item (0 on the first). */
  get attempt(): number {
    return this.it.attempt;
  }
  /** The batch time, Unix nanoseconds; the same on every attempt. */
  get batchTime(): bigint {
    return this.batch.timeUnixNano;
  }
  /** A record's append time, or for a hop the batch time of the batch that sent it, Unix nanoseconds. */
  get eventTime(): bigint {
    return this.it.eventTimeUnixNano;
  }
  /** The depot partition of a record, or the partition that sent a hop. */
  get sourcePartition(): number {
    return this.it.sourcePartition;
  }
  /** Whether the item is a depot record, a hop delivery or (ABI 1.1) the invocation of a query. */
  get kind(): "record" | "hop" | "invoke" {
    return this.it.kind === F.ItemRecord ? "record" : this.it.kind === F.ItemInvoke ? "invoke" : "hop";
  }
  /**
   * The batch's id: in a microbatch topology the microbatch number, the
   * same on every partition, call and attempt of a microbatch (use it for
   * idempotent writes elsewhere); in a query, the invocation's number.
   */
  get batchId(): bigint {
    return this.batch.batchId;
  }
  /** Whether this item belongs to a query invocation (ABI 1.1). */
  get inQuery(): boolean {
    return (this.batch.flags & F.BatchQuery) !== 0;
  }
  /** The depot of a record (undefined for a hop). */
  get depot(): string | undefined {
    return this.it.kind === F.ItemRecord ? this.inst.built!.builder.depots[this.it.depot]?.name : undefined;
  }
  /** A record's offset in its depot partition (0 for a hop). */
  get offset(): bigint {
    return this.it.offset;
  }
  /** The running stage's name. */
  get stageName(): string {
    return this.stage.name;
  }
  /** The topology's name. */
  get topologyName(): string {
    return this.stage.topology.name;
  }

  /** A deterministic random number in [0, 1): the same on every attempt of the batch. */
  random(): number {
    // splitmix64 seeded with the batch seed and the item index.
    let s = this.rng ?? (this.batch.seed ^ (BigInt(this.item) * 0x9e3779b97f4a7c15n)) & 0xffffffffffffffffn;
    s = (s + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    this.rng = s;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    z = z ^ (z >> 31n);
    return Number(z >> 11n) / 9007199254740992;
  }

  /** Appends a record to a depot of this module (committed with the batch). */
  append<R>(depot: Depot<R>, record: R, opts?: AppendOptions): void {
    this.check();
    const b = this.inst.built!.builder;
    if (b.depots[depot.index] !== depot) throw new Error(`squall: append: ${JSON.stringify(depot.name)} is not a depot of this module`);
    const ack = opts?.ack ?? "ack";
    const level = ack === "none" ? 0 : ack === "appendAck" ? 1 : ack === "ack" ? 2 : -1;
    if (level < 0) throw new Error(`squall: append: unknown ack level ${JSON.stringify(ack)}; use "none", "appendAck" or "ack"`);
    this.inst.eff.value(F.OpAppend, level | (opts?.local ? 4 : 0), depot.index, this.item, record);
    this.inst.maybeFlush();
  }

  private hopTo(stage: Stage<any>, partitioner: number, k: unknown, partition: number, payload: unknown): void {
    this.check();
    if (stage.topology !== this.stage.topology) {
      throw new Error(`squall: hop: stage ${JSON.stringify(stage.name)} is in topology ${JSON.stringify(stage.topology.name)}; a hop stays in its topology (${JSON.stringify(this.stage.topology.name)})`);
    }
    const eff = this.inst.eff;
    const start = eff.begin(F.OpHop, partitioner, stage.index, this.item);
    try {
      if (partitioner === F.HopHash) eff.putPair(k, payload);
      else {
        if (partitioner === F.HopDirect) eff.w.u32le(partition);
        eff.put(payload);
      }
    } catch (e) {
      eff.abandon(start);
      throw e;
    }
    eff.end(start);
    this.inst.maybeFlush();
  }

  /** Runs the stage with the payload on the partition that owns the key. */
  hop<P>(stage: Stage<P>, key: unknown, payload: P): void {
    this.hopTo(stage, F.HopHash, key, 0, payload);
  }
  /** Runs the stage with the payload on every partition, this one included. */
  hopAll<P>(stage: Stage<P>, payload: P): void {
    this.hopTo(stage, F.HopAll, undefined, 0, payload);
  }
  /** Runs the stage on partition 0. */
  hopGlobal<P>(stage: Stage<P>, payload: P): void {
    this.hopTo(stage, F.HopGlobal, undefined, 0, payload);
  }
  /** Runs the stage on the partition where this item's processing started. */
  hopOrigin<P>(stage: Stage<P>, payload: P): void {
    this.hopTo(stage, F.HopOrigin, undefined, 0, payload);
  }
  /** Runs the stage on a partition the host picks (deterministically from the batch seed). */
  hopShuffle<P>(stage: Stage<P>, payload: P): void {
    this.hopTo(stage, F.HopShuffle, undefined, 0, payload);
  }
  /** Runs the stage on the given partition (< partitions). */
  hopDirect<P>(stage: Stage<P>, partition: number, payload: P): void {
    if (!Number.isInteger(partition) || partition < 0 || partition > 0xffffffff) {
      throw new Error(`squall: hopDirect: partition ${partition} is not a partition number`);
    }
    this.hopTo(stage, F.HopDirect, undefined, partition, payload);
  }

  /** Applies a transform path (ending with set, incr, append, prepend, remove or merge) to the PState on this partition. */
  transform(ps: PState<any, any>, path: Path): void {
    this.check();
    if (!(path instanceof Path)) throw new Error("squall: transform: the path must be built with key(...), path()...");
    this.inst.eff.value(F.OpTransform, 0, ps.index, this.item, path.steps);
    this.inst.maybeFlush();
  }

  /**
   * Combines the aggregator into the PState at the key path (ABI 1.1): the
   * keys are navigated from the top as key steps, creating maps where
   * values are absent; the first is the top-level key and must belong to
   * this partition ([] for a PState whose top level is a leaf or record).
   * The host applies it: `ctx.aggregate(stats, [user, "count"], agg.count())`.
   */
  aggregate(ps: PState<any, any>, keys: readonly unknown[], a: Agg): void {
    this.check();
    const b = this.inst.built!.builder;
    if (b.pstates[ps.index] !== ps) throw new PoisonError(`squall: aggregate: ${JSON.stringify(ps?.name)} is not a PState of this module`);
    this.aggregateTo(ps.index, keys, a, "aggregate");
  }

  /**
   * Combines the aggregator into the result of the running query
   * invocation, at the key path ([]: the whole result). Query topologies
   * only; every partition's stage may contribute.
   */
  aggregateResult(keys: readonly unknown[], a: Agg): void {
    this.check();
    this.aggregateTo(F.QueryResultTarget, keys, a, "aggregateResult");
  }

  private aggregateTo(target: number, keys: readonly unknown[], a: Agg, what: string): void {
    if (!Array.isArray(keys)) throw new PoisonError(`squall: ${what}: the key path is a list of keys ([] for the whole accumulator)`);
    const x = checkAgg(a, what);
    this.inst.eff.aggregate(x.code, target, this.item, keys as unknown[], x.value, x.n);
    this.inst.maybeFlush();
  }

  /** Sets the result of the running query invocation (query topologies only); aggregateResult combines into it. */
  setResult(value: unknown): void {
    this.check();
    this.inst.eff.value(F.OpEmit, 0, F.StreamQueryResult, this.item, value);
    this.inst.maybeFlush();
  }

  /**
   * Invokes a query topology of this module with its arguments and returns
   * its result (ABI 1.1). It reads the committed PStates, not this batch's
   * own writes. Failures throw InvokeError.
   */
  invoke<R = Value, A extends unknown[] = unknown[]>(q: Query<A>, ...args: A): R {
    this.check();
    const b = this.inst.built!.builder;
    if (b.queries[q?.index] !== q) throw new PoisonError("squall: invoke: not a query of this module");
    const r = this.inst.query(F.QueryInvoke, q.index, args);
    if (this.rejected) throw this.rejected;
    if (r.status < 0) throw new InvokeError(q.name, r.status, r.message ?? "");
    return r.value as R;
  }

  /** Sets the ack return of the item's root record (the last emit wins). */
  emit(value: unknown): void {
    this.check();
    this.inst.eff.value(F.OpEmit, 0, 0, this.item, value);
    this.inst.maybeFlush();
  }

  /** Writes a line to the operator log (kept even when the item fails). */
  log(message: string, level: LogLevel = "info"): void {
    if (this.done) done();
    const l = logLevels[level];
    if (l === undefined) throw new Error(`squall: log: unknown level ${JSON.stringify(level)}; use "debug", "info", "warn" or "error"`);
    this.inst.eff.log(l, this.item, String(message));
  }

  private query(op: number, ps: PState<any, any>, path: Path): F.QueryResult {
    this.check();
    if (!(path instanceof Path)) throw new Error("squall: select: the path must be built with key(...), path()...");
    const r = this.inst.query(op, ps.index, path.steps);
    if (this.rejected) throw this.rejected;
    if (r.status < 0) throw new QueryError(ps.name, path.toString(), r.status, r.message ?? "");
    return r;
  }

  /** Every value the path navigates to, on this partition (sees this call's earlier transforms). */
  select<T = Value>(ps: PState<any, any>, path: Path): T[] {
    return this.query(F.QuerySelect, ps, path).value as T[];
  }

  /** The one value the path navigates to, or undefined when it navigates to none (null is a nil value). Several: a QueryError (EMULTI). */
  selectOne<T = Value>(ps: PState<any, any>, path: Path): T | undefined {
    const r = this.query(F.QuerySelectOne, ps, path);
    return r.status === F.ResultNotFound ? undefined : (r.value as T);
  }

  /** The value under a top-level key of a map PState (null when absent). */
  get<K, V>(ps: PState<K, V>, k: K): V | null {
    const v = this.selectOne<V>(ps, keyPath(k));
    return v === undefined ? null : v;
  }
}
