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
  readonly kind: "hash" | "random" | "disallow";
  readonly key?: Path;
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
  /** @internal */
  declare readonly __key?: K;
  /** @internal */
  declare readonly __val?: V;
  constructor(name: string, index: number, s: Schema, global: boolean) {
    this.name = name;
    this.index = index;
    this.schema = s;
    this.global = global;
  }
}

/** A stage's code: it gets the item (a depot record or a hop payload). Throw to fail the item. */
export type StageFn<In> = (ctx: Ctx, input: In) => void;

/** A stage of a stream topology, taking inputs of type In. */
export class Stage<In = Value> {
  readonly name: string;
  readonly index: number;
  readonly topology: Topology;
  readonly fn: StageFn<In>;
  /**
   * Turns the decoded item into In; a failure poisons the item (kind
   * "input"). Typed loosely so that Stage stays contravariant in In (hop
   * infers the payload type from the stage).
   */
  readonly parse: ((v: unknown) => unknown) | undefined;
  constructor(name: string, index: number, topology: Topology, fn: StageFn<In>, parse?: (v: unknown) => unknown) {
    this.name = name;
    this.index = index;
    this.topology = topology;
    this.fn = fn;
    this.parse = parse;
  }
}

/** A stream topology: stages that run on records of its source depots and on hops. */
export class Topology {
  readonly name: string;
  readonly index: number;
  readonly stages: Stage<any>[] = [];
  readonly sources: { depot: Depot<any>; stage: Stage<any> }[] = [];
  private readonly b: ModuleBuilder;
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
    const w = `topologies[${this.index}].stages[${this.stages.length}]`;
    if (typeof fn !== "function") this.b.problem(w, `stage ${JSON.stringify(name)} needs a function (ctx, input) => void`);
    else if ((fn as { constructor?: { name?: string } }).constructor?.name === "AsyncFunction") {
      this.b.problem(w, `stage ${JSON.stringify(name)} is an async function; stages are synchronous (ctx.select returns values directly), remove "async"`);
    }
    if (b !== undefined && typeof a !== "function") this.b.problem(w, `stage ${JSON.stringify(name)}: the parser must be a function (v: unknown) => input`);
    const s = new Stage<In>(name, this.stages.length, this, fn, parse);
    this.stages.push(s);
    return s;
  }
  /** Delivers every record appended to the depot to the stage. */
  source<R>(depot: Depot<R>, stage: Stage<R>): void {
    const w = `topologies[${this.index}].sources[${this.sources.length}]`;
    if (!(depot instanceof Depot) || this.b.depots[depot.index] !== depot) this.b.problem(w + ".depot", "not a depot of this module");
    if (!(stage instanceof Stage) || stage.topology !== this) this.b.problem(w + ".stage", `not a stage of topology ${JSON.stringify(this.name)}`);
    this.sources.push({ depot, stage });
  }
}

/** What the define function receives. */
export class ModuleBuilder {
  readonly depots: Depot<any>[] = [];
  readonly depotDefs: Partitioner[] = [];
  readonly pstates: PState<any, any>[] = [];
  readonly topologies: Topology[] = [];
  readonly problems: DefProblem[] = [];
  /** @internal */
  problem(where: string, msg: string): void {
    this.problems.push({ where, msg });
  }
  /** Declares a depot of records of type R (default partitioner: hash of the whole record). */
  depot<R = Value>(name: string, partitioner: Partitioner = hashRecord()): Depot<R> {
    if (!partitioner || !["hash", "random", "disallow"].includes(partitioner.kind)) {
      this.problem(`depots[${this.depots.length}].partitioner`, "use hashBy(path), hashRecord(), random() or disallow()");
      partitioner = hashRecord();
    }
    const d = new Depot<R>(name, this.depots.length);
    this.depots.push(d);
    this.depotDefs.push(partitioner);
    return d;
  }
  /** Declares a PState. `global`: it lives on partition 0 only. */
  pstate<K = Value, V = Value>(name: string, s: Schema, opts: { global?: boolean } = {}): PState<K, V> {
    if (!(s instanceof Schema)) {
      this.problem(`pstates[${this.pstates.length}].schema`, "use the schema helpers (schema.mapOf(schema.string, schema.int), ...)");
      s = new Schema("any");
    }
    const p = new PState<K, V>(name, this.pstates.length, s, !!opts.global);
    this.pstates.push(p);
    return p;
  }
  /** Declares a stream topology. */
  stream(name: string): Topology {
    const t = new Topology(this, name, this.topologies.length);
    this.topologies.push(t);
    return t;
  }
}

/** A module ready to run: the definition's ABI value and bytes, and the stages by id. */
export interface BuiltModule {
  readonly definition: Record<string, unknown>;
  readonly defBytes: Uint8Array;
  readonly builder: ModuleBuilder;
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
      return { name: d.name, partitioner: part };
    });
    def.pstates = b.pstates.map((p) => {
      const o: Record<string, unknown> = { name: p.name, schema: p.schema.toValue() };
      if (p.global) o.global = true;
      return o;
    });
    def.topologies = b.topologies.map((t) => ({
      name: t.name,
      kind: "stream",
      sources: t.sources.map((s) => ({ depot: s.depot?.name, stage: s.stage?.name })),
      stages: t.stages.map((s) => s.name),
    }));
    let problems: DefProblem[] = [];
    try {
      checkDefinition(def);
    } catch (e) {
      if (!(e instanceof DefinitionError)) throw e;
      problems = e.problems;
    }
    if (b.problems.length > 0 || problems.length > 0) throw new DefinitionError([...b.problems, ...problems]);
    return { definition: def, defBytes: encodePure(def), builder: b };
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
