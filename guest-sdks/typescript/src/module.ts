// Declaring a module: depots, PStates, stream topologies and their stages.
//
//   export default defineModule("wordcount", (m) => {
//     const sentences = m.depot<Sentence>("sentences", hashBy(key("user")));
//     const counts = m.pstate<string, number>("$$wordCounts", schema.mapOf(schema.string, schema.int));
//     const t = m.stream("wordcount");
//     const split = t.stage<Sentence>("split", (ctx, s) => { for (const w of words(s.text)) ctx.hop(count, w, w); });
//     const count = t.stage<string>("count", (ctx, w) => ctx.transform(counts, key(w).incr(1)));
//     t.source(sentences, split);
//   });

import type { Ctx } from "./ctx.js";
import { Path } from "./path.js";
import { Schema } from "./schema.js";
import type { Value } from "./value.js";
import { checkDefinition, DefinitionError, type DefProblem } from "./defcheck.js";
import { encodePure } from "./msgpack.js";
import { register } from "./runtime.js";

/** How a depot spreads appended records over partitions. */
export interface Partitioner {
  readonly kind: "hash" | "random" | "disallow" | "tick";
  readonly key?: Path;
  /** A tick depot's period in milliseconds. */
  readonly millis?: number;
}

/** Records go to the partition that owns the key selected from the record by the path (nil when none). */
export function hashBy(keyPath: Path): Partitioner {
  return { kind: "hash", key: keyPath };
}
/** Records go to the partition that owns the whole record. */
export function hashRecord(): Partitioner {
  return { kind: "hash" };
}
/** Records go to a random partition. */
export function random(): Partitioner {
  return { kind: "random" };
}
/** Clients cannot append; topologies append with `local: true`. */
export function disallow(): Partitioner {
  return { kind: "disallow" };
}

/** A depot of records of type R. */
export class Depot<R = Value> {
  readonly name: string;
  readonly index: number;
  /** @internal the record type; never set */
  declare readonly __record?: R;
  constructor(name: string, index: number) {
    this.name = name;
    this.index = index;
  }
}

/** A PState; K and V describe its top-level keys and values (for a map schema), as you declare them. */
export class PState<K = Value, V = Value> {
  readonly name: string;
  readonly index: number;
  readonly schema: Schema;
  readonly global: boolean;
  /** The one topology that may write it (ABI 1.1), or undefined: any stream topology. */
  readonly owner: Topology | undefined;
  /** @internal */
  declare readonly __key?: K;
  /** @internal */
  declare readonly __val?: V;
  constructor(name: string, index: number, s: Schema, global: boolean, owner?: Topology) {
    this.name = name;
    this.index = index;
    this.schema = s;
    this.global = global;
    this.owner = owner;
  }
}

/** A stage's code: it gets the item (a depot record or a hop payload). Throw to fail the item. */
export type StageFn<In> = (ctx: Ctx, input: In) => void;

/** A stage of a topology or a query topology, taking inputs of type In. */
export class Stage<In = Value> {
  readonly name: string;
  readonly index: number;
  readonly topology: Stages;
  readonly fn: StageFn<In>;
  /**
   * Turns the decoded item into In; a failure poisons the item (kind
   * "input"). Typed loosely so that Stage stays contravariant in In (hop
   * infers the payload type from the stage).
   */
  readonly parse: ((v: unknown) => unknown) | undefined;
  constructor(name: string, index: number, topology: Stages, fn: StageFn<In>, parse?: (v: unknown) => unknown) {
    this.name = name;
    this.index = index;
    this.topology = topology;
    this.fn = fn;
    this.parse = parse;
  }
}

/** Where a source starts on its first deploy: the first record still stored (default), the end of the depot, or an offset. */
export type StartFrom = "beginning" | "end" | number;

/** Options of a source (ABI 1.1). */
export interface SourceOptions {
  startFrom?: StartFrom;
}

/** Options of a microbatch topology (ABI 1.1). */
export interface MicrobatchOptions {
  /** At most this many records of each source on each partition per microbatch (1 to 1,000,000; default 1000). */
  maxRecords?: number;
  /** The least time in milliseconds from the start of one microbatch to the next (0 to 3,600,000; default 0). */
  intervalMs?: number;
}

/** What topologies and query topologies share: named stages that hop to each other. */
export abstract class Stages {
  readonly name: string;
  readonly index: number;
  readonly stages: Stage<any>[] = [];
  /** @internal */
  protected readonly b: ModuleBuilder;
  /** @internal where problems of this topology are reported: "topologies" or "queries" */
  protected abstract readonly section: string;
  constructor(b: ModuleBuilder, name: string, index: number) {
    this.b = b;
    this.name = name;
    this.index = index;
  }
  /**
   * Declares a stage; its id is its position. A stage's code may hop to
   * stages declared after it. With a parser (such as recordParser(...)), the
   * stage gets what it returns, and an item it refuses is dead-lettered at
   * once (kind "input").
   */
  stage<In = Value>(name: string, fn: StageFn<In>): Stage<In>;
  stage<In>(name: string, parse: (v: unknown) => In, fn: StageFn<In>): Stage<In>;
  stage<In>(name: string, a: StageFn<In> | ((v: unknown) => In), b?: StageFn<In>): Stage<In> {
    const fn = (b ?? a) as StageFn<In>;
    const parse = b === undefined ? undefined : (a as (v: unknown) => In);
    const w = `${this.section}[${this.index}].stages[${this.stages.length}]`;
    if (typeof fn !== "function") this.b.problem(w, `stage ${JSON.stringify(name)} needs a function (ctx, input) => void`);
    else if ((fn as { constructor?: { name?: string } }).constructor?.name === "AsyncFunction") {
      this.b.problem(w, `stage ${JSON.stringify(name)} is an async function; stages are synchronous (ctx.select returns values directly), remove "async"`);
    }
    if (b !== undefined && typeof a !== "function") this.b.problem(w, `stage ${JSON.stringify(name)}: the parser must be a function (v: unknown) => input`);
    const s = new Stage<In>(name, this.stages.length, this, fn, parse);
    this.stages.push(s);
    return s;
  }
}

/**
 * A topology: stages that run on records of its source depots and on hops.
 * A stream topology (m.stream) processes each record as it comes, at least
 * once; a microbatch topology (m.microbatch, ABI 1.1) processes records in
 * microbatches across every partition, exactly once, each committed
 * atomically.
 */
export class Topology extends Stages {
  readonly kind: "stream" | "microbatch";
  readonly maxRecords: number | undefined;
  readonly intervalMs: number | undefined;
  readonly sources: { depot: Depot<any>; stage: Stage<any>; startFrom: StartFrom | undefined }[] = [];
  /** @internal */
  protected readonly section = "topologies";
  constructor(b: ModuleBuilder, name: string, index: number, kind: "stream" | "microbatch" = "stream", opts: MicrobatchOptions = {}) {
    super(b, name, index);
    this.kind = kind;
    this.maxRecords = opts.maxRecords;
    this.intervalMs = opts.intervalMs;
  }
  /**
   * Delivers every record appended to the depot to the stage. `startFrom`
   * (ABI 1.1) says where the source starts on the topology's first deploy.
   */
  source<R>(depot: Depot<R>, stage: Stage<R>, opts: SourceOptions = {}): void {
    const w = `topologies[${this.index}].sources[${this.sources.length}]`;
    if (!(depot instanceof Depot) || this.b.depots[depot.index] !== depot) this.b.problem(w + ".depot", "not a depot of this module");
    if (!(stage instanceof Stage) || stage.topology !== this) this.b.problem(w + ".stage", `not a stage of topology ${JSON.stringify(this.name)}`);
    const sf = opts.startFrom;
    if (sf !== undefined && sf !== "beginning" && sf !== "end" && !(Number.isSafeInteger(sf) && sf >= 0)) {
      this.b.problem(w + ".start_from", `startFrom must be "beginning", "end" or an offset (an integer >= 0), not ${JSON.stringify(sf)}`);
    }
    this.sources.push({ depot, stage, startFrom: sf });
  }
  /**
   * Declares a PState that only this topology may write (its owner, ABI
   * 1.1). A microbatch topology may write only the PStates it owns.
   */
  pstate<K = Value, V = Value>(name: string, s: Schema, opts: { global?: boolean } = {}): PState<K, V> {
    return this.b.pstate<K, V>(name, s, { ...opts, owner: this });
  }
}

/**
 * A query topology (ABI 1.1): invoked with arguments by clients or by
 * stages (ctx.invoke), it runs its first stage (the entry, which gets the
 * argument list) on some partition, then the hops it sends, all reading
 * one snapshot; its result is what ctx.setResult and ctx.aggregateResult
 * make of it. A is the type of the argument list.
 */
export class Query<A extends unknown[] = Value[]> extends Stages {
  readonly args: readonly string[];
  /** @internal */
  protected readonly section = "queries";
  /** @internal */
  declare readonly __args?: A;
  constructor(b: ModuleBuilder, name: string, index: number, args: readonly string[]) {
    super(b, name, index);
    this.args = args;
  }
}

/** What the define function receives. */
export class ModuleBuilder {
  readonly depots: Depot<any>[] = [];
  readonly depotDefs: Partitioner[] = [];
  readonly pstates: PState<any, any>[] = [];
  readonly topologies: Topology[] = [];
  readonly queries: Query<any>[] = [];
  readonly problems: DefProblem[] = [];
  /** @internal */
  problem(where: string, msg: string): void {
    this.problems.push({ where, msg });
  }
  /** Declares a depot of records of type R (default partitioner: hash of the whole record). */
  depot<R = Value>(name: string, partitioner: Partitioner = hashRecord()): Depot<R> {
    if (!partitioner || !["hash", "random", "disallow"].includes(partitioner.kind) || partitioner.millis !== undefined) {
      this.problem(`depots[${this.depots.length}].partitioner`, "use hashBy(path), hashRecord(), random() or disallow()");
      partitioner = hashRecord();
    }
    const d = new Depot<R>(name, this.depots.length);
    this.depots.push(d);
    this.depotDefs.push(partitioner);
    return d;
  }
  /**
   * Declares a tick depot (ABI 1.1): while the module runs, the host
   * appends the tick time (Unix milliseconds, an int) to its partition 0
   * every `millis` milliseconds. Nobody else may append to it.
   */
  tickDepot(name: string, millis: number): Depot<number> {
    const d = new Depot<number>(name, this.depots.length);
    this.depots.push(d);
    this.depotDefs.push({ kind: "tick", millis });
    return d;
  }
  /**
   * Declares a PState. `global`: it lives on partition 0 only. `owner`
   * (ABI 1.1): the one topology that may write it (t.pstate(...) says the
   * same).
   */
  pstate<K = Value, V = Value>(name: string, s: Schema, opts: { global?: boolean; owner?: Topology } = {}): PState<K, V> {
    if (!(s instanceof Schema)) {
      this.problem(`pstates[${this.pstates.length}].schema`, "use the schema helpers (schema.mapOf(schema.string, schema.int), ...)");
      s = new Schema("any");
    }
    if (opts.owner !== undefined && (!(opts.owner instanceof Topology) || this.topologies[opts.owner.index] !== opts.owner)) {
      this.problem(`pstates[${this.pstates.length}].owner`, "not a topology of this module");
    }
    const p = new PState<K, V>(name, this.pstates.length, s, !!opts.global, opts.owner);
    this.pstates.push(p);
    return p;
  }
  /** Declares a stream topology. */
  stream(name: string): Topology {
    const t = new Topology(this, name, this.topologies.length);
    this.topologies.push(t);
    return t;
  }
  /**
   * Declares a microbatch topology (ABI 1.1): exactly-once processing in
   * microbatches that commit atomically on every partition. It may write
   * only the PStates it owns (declare them with its pstate method).
   */
  microbatch(name: string, opts: MicrobatchOptions = {}): Topology {
    const t = new Topology(this, name, this.topologies.length, "microbatch", opts);
    this.topologies.push(t);
    return t;
  }
  /**
   * Declares a query topology (ABI 1.1) taking the named arguments; its
   * first stage is the entry and gets the argument list.
   */
  query<A extends unknown[] = Value[]>(name: string, args: readonly string[] = []): Query<A> {
    if (!Array.isArray(args)) {
      this.problem(`queries[${this.queries.length}].args`, "the arguments are a list of names");
      args = [];
    }
    const q = new Query<A>(this, name, this.queries.length, [...args]);
    this.queries.push(q);
    return q;
  }
}

/** A module ready to run: the definition's ABI value and bytes, and the stages by id. */
export interface BuiltModule {
  readonly definition: Record<string, unknown>;
  readonly defBytes: Uint8Array;
  readonly builder: ModuleBuilder;
  /** The lowest ABI minor the definition needs: 1 when it uses a 1.1 feature (abi.ModuleDef.MinMinor). */
  readonly minor: number;
}

function minMinor(b: ModuleBuilder): number {
  if (b.queries.length > 0) return 1;
  if (b.depotDefs.some((p) => p.kind === "tick")) return 1;
  if (b.pstates.some((p) => p.owner !== undefined)) return 1;
  if (b.topologies.some((t) => t.kind === "microbatch" || t.sources.some((s) => s.startFrom !== undefined && s.startFrom !== "beginning"))) return 1;
  return 0;
}

/** A declared module. */
export class Module {
  readonly name: string | undefined;
  readonly define: (m: ModuleBuilder) => void;
  constructor(name: string | undefined, define: (m: ModuleBuilder) => void) {
    this.name = name;
    this.define = define;
  }
  /** Runs the define function and checks the definition as the host will; throws DefinitionError with every problem. */
  build(): BuiltModule {
    const b = new ModuleBuilder();
    this.define(b);
    const def: Record<string, unknown> = {};
    if (this.name !== undefined) def.name = this.name;
    def.depots = b.depots.map((d, i) => {
      const p = b.depotDefs[i]!;
      const part: Record<string, unknown> = { kind: p.kind };
      if (p.key) part.key = p.key.steps;
      if (p.millis !== undefined) part.millis = p.millis;
      return { name: d.name, partitioner: part };
    });
    def.pstates = b.pstates.map((p) => {
      const o: Record<string, unknown> = { name: p.name, schema: p.schema.toValue() };
      if (p.global) o.global = true;
      if (p.owner) o.owner = p.owner.name;
      return o;
    });
    def.topologies = b.topologies.map((t) => {
      const o: Record<string, unknown> = {
        name: t.name,
        kind: t.kind,
        sources: t.sources.map((s) => {
          const so: Record<string, unknown> = { depot: s.depot?.name, stage: s.stage?.name };
          if (s.startFrom !== undefined && s.startFrom !== "beginning") so.start_from = s.startFrom;
          return so;
        }),
        stages: t.stages.map((s) => s.name),
      };
      if (t.maxRecords !== undefined) o.max_records = t.maxRecords;
      if (t.intervalMs !== undefined) o.interval_ms = t.intervalMs;
      return o;
    });
    if (b.queries.length > 0) {
      def.queries = b.queries.map((q) => {
        const o: Record<string, unknown> = { name: q.name, stages: q.stages.map((s) => s.name) };
        if (q.args.length > 0) o.args = q.args;
        return o;
      });
    }
    let problems: DefProblem[] = [];
    try {
      checkDefinition(def);
    } catch (e) {
      if (!(e instanceof DefinitionError)) throw e;
      problems = e.problems;
    }
    if (b.problems.length > 0 || problems.length > 0) throw new DefinitionError([...b.problems, ...problems]);
    return { definition: def, defBytes: encodePure(def), builder: b, minor: minMinor(b) };
  }
}

/**
 * Declares the module. In the Squall runtime this also registers it, so
 * the host can run it; export the result (`export default defineModule(...)`)
 * to test it with `@squall/sdk/testing`. The define function runs in every
 * instance and must declare the same module each time.
 */
export function defineModule(name: string, define: (m: ModuleBuilder) => void): Module;
export function defineModule(define: (m: ModuleBuilder) => void): Module;
export function defineModule(a: string | ((m: ModuleBuilder) => void), b?: (m: ModuleBuilder) => void): Module {
  const mod = typeof a === "string" ? new Module(a, b!) : new Module(undefined, a);
  register(mod);
  return mod;
}
