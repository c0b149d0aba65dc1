// The runtime: answers the host's init and process calls (ABI.md §12, §13)
// through a Host — the QuickJS runtime's native glue in wasm, or the test
// harness's in-memory host.

import * as F from "./frames.js";
import { Writer } from "./msgpack.js";
import { decode } from "./codec.js";
import { native, type SquallNative } from "./codec.js";
import { Ctx } from "./ctx.js";
import type { BuiltModule, Module, Stages } from "./module.js";
import { DefinitionError } from "./defcheck.js";
import { classify, HostFailedError, InputError, messageOf, PoisonError, RejectedError } from "./errors.js";
import { setNativeEncode } from "./frames.js";

/** What the runtime needs from the host: the ABI's flush, query (with take done inside) and take. */
export interface Host {
  /** Submits an effects frame; 0, n > 0 rejections (fetch them with take), or a negative errno. */
  flush(frame: Uint8Array): number;
  /** Runs a query frame, returns the response frame; throws an Error with `errno` on a negative errno. */
  query(req: Uint8Array): Uint8Array;
  /** The parked rejections after a flush returned n > 0; absent: rejections are not fetched (the host poisons the items anyway). */
  take?(): Uint8Array | null;
}

const flushAt = 64 << 10;
// Effects of one item may span frames; past this size the frame is flushed
// before the item ends, so that no frame approaches MaxEffectsFrame.
const flushMidItem = 4 << 20;

/** One instance of a module, as the host sees it. */
export class Instance {
  readonly mod: Module;
  readonly host: Host;
  built: BuiltModule | undefined;
  buildError: unknown;
  tasks = 1;
  readonly eff = new F.EffectsWriter();
  private readonly req = new Writer(256);
  cur: Ctx | undefined;
  fatal: HostFailedError | undefined;
  private flushFailed = false;
  /** Maps a JS stack to source lines when the runtime can (set by the wasm glue). */
  mapStack: ((stack: string) => string) | undefined;

  constructor(mod: Module, host: Host) {
    this.mod = mod;
    this.host = host;
  }

  private module(): BuiltModule {
    if (this.built) return this.built;
    if (this.buildError !== undefined) throw this.buildError;
    try {
      this.built = this.mod.build();
      return this.built;
    } catch (e) {
      this.buildError = e;
      throw e;
    }
  }

  /** Flushes in the middle of an item when the frame grows large (the ABI's limit is 16 MiB). */
  maybeFlush(): void {
    if (this.eff.size >= flushMidItem) this.flush();
  }

  flush(): void {
    if (this.fatal || this.eff.count === 0) return;
    const r = this.host.flush(this.eff.frame());
    this.eff.reset();
    if (r < 0) {
      this.fatal = new HostFailedError(r);
      this.flushFailed = true;
    } else if (r > 0) this.rejections();
  }

  private rejections(): void {
    if (!this.host.take) return;
    let list: unknown;
    try {
      const b = this.host.take();
      if (b === null || b === undefined) return; // nothing parked
      list = decode(b);
    } catch (e) {
      this.fatal = new HostFailedError(typeof (e as { errno?: number }).errno === "number" ? (e as { errno: number }).errno : -1);
      return;
    }
    const c = this.cur;
    if (!c || c.rejected || !Array.isArray(list)) return;
    for (const r of list as Record<string, unknown>[]) {
      if (Number(r.item) !== c.item) continue;
      c.rejected = new RejectedError(Number(r.code), String(r.message ?? ""));
      return;
    }
  }

  query(op: number, pstate: number, path: unknown): F.QueryResult {
    this.flush();
    if (this.fatal) throw this.fatal;
    const req = F.encodeQuery(this.req, op, pstate, path);
    if (req.length > F.MaxQueryFrame) {
      throw new PoisonError(`squall: query path of ${req.length} bytes exceeds the ABI's 1 MiB query frame limit`);
    }
    let resp: Uint8Array;
    try {
      resp = this.host.query(req);
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      this.fatal = new HostFailedError(typeof errno === "number" ? errno : -8);
      throw this.fatal;
    }
    let rs: F.QueryResult[];
    try {
      rs = F.decodeResponse(resp);
    } catch {
      rs = [];
    }
    if (rs.length !== 1) {
      this.fatal = new HostFailedError(-1);
      throw this.fatal;
    }
    return rs[0]!;
  }

  private failCall(item: number, d: F.ErrorDetail): number {
    if (!this.flushFailed) {
      const fatal = this.fatal;
      this.fatal = undefined;
      try {
        this.eff.value(F.OpError, 0, 0, item, F.detailValue(d));
      } catch {
        this.eff.value(F.OpError, 0, 0, item, { kind: d.kind ?? "sdk", message: "the error message could not be encoded" });
      }
      this.flush();
      if (!this.fatal) this.fatal = fatal;
    }
    return F.StatusFailed;
  }

  private stack(e: unknown): string | undefined {
    const s = e instanceof Error ? e.stack : undefined;
    if (!s) return undefined;
    try {
      return this.mapStack ? this.mapStack(s) : s;
    } catch {
      return s;
    }
  }

  /** squall_init: flushes the definition; returns the call status. */
  init(frame: Uint8Array): number {
    this.eff.reset();
    this.fatal = undefined;
    this.cur = undefined;
    this.flushFailed = false;
    let f: F.InitFrame;
    try {
      f = F.decodeInit(frame);
    } catch (e) {
      return this.failCall(F.NoItem, { kind: "abi", message: messageOf(e) });
    }
    this.tasks = f.tasks;
    let b: BuiltModule;
    try {
      b = this.module();
    } catch (e) {
      const kind = e instanceof DefinitionError ? "definition" : "define";
      return this.failCall(F.NoItem, { kind, message: messageOf(e), stack: this.stack(e) });
    }
    const start = this.eff.begin(F.OpDefine, 0, 0, F.NoItem);
    this.eff.raw(b.defBytes);
    this.eff.end(start);
    this.flush();
    return this.fatal ? F.StatusFailed : F.StatusOK;
  }

  /** squall_process: runs the batch's items in order; returns the call status. */
  process(frame: Uint8Array): number {
    this.eff.reset();
    this.fatal = undefined;
    this.cur = undefined;
    this.flushFailed = false;
    let b: BuiltModule;
    try {
      b = this.module();
    } catch (e) {
      return this.failCall(F.NoItem, { kind: "definition", message: messageOf(e) });
    }
    let batch: F.BatchFrame;
    try {
      batch = F.decodeBatch(frame);
    } catch (e) {
      return this.failCall(F.NoItem, { kind: "abi", message: messageOf(e) });
    }
    // A QUERY batch (ABI 1.1) runs a query topology's stages.
    const query = (batch.flags & F.BatchQuery) !== 0;
    const topos: Stages[] = query ? b.builder.queries : b.builder.topologies;
    if (batch.topology >= topos.length) {
      return this.failCall(F.NoItem, {
        kind: "abi",
        message: `squall_process: the batch names ${query ? "query" : "topology"} ${batch.topology}; the module has ${topos.length}`,
      });
    }
    const topo = topos[batch.topology]!;
    const eff = this.eff;
    let failed = F.NoItem;
    const items = batch.items;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      const stage = topo.stages[it.stage];
      if (stage === undefined) {
        return this.failCall(i, {
          kind: "abi",
          message: `squall_process: item ${i} names stage ${it.stage} of ${query ? "query" : "topology"} "${topo.name}", which has ${topo.stages.length}`,
        });
      }
      const ctx = new Ctx(this, batch, it, i, stage);
      this.cur = ctx;
      eff.markItem();
      let err: unknown;
      let failedStage = false;
      let input: unknown;
      try {
        input = decode(frame.subarray(it.payloadStart, it.payloadEnd));
        if (stage.parse !== undefined) input = stage.parse(input);
      } catch (e) {
        err = new InputError(stage.name, e);
        failedStage = true;
      }
      if (!failedStage) {
        try {
          const r: unknown = stage.fn(ctx, input);
          if (r !== undefined && typeof (r as { then?: unknown }).then === "function") {
            throw new PoisonError(`stage "${stage.name}" returned a promise; stages are synchronous and promise jobs never run`);
          }
        } catch (e) {
          err = e;
          failedStage = true;
        }
      }
      ctx.done = true;
      this.cur = undefined;
      if (this.fatal) {
        failed = i;
        break;
      }
      if (!failedStage && ctx.rejected) {
        err = ctx.rejected;
        failedStage = true;
      }
      if (!failedStage) eff.outcome(i, F.OutcomeOK);
      else {
        const c = classify(err);
        const d: F.ErrorDetail = { kind: c.kind, message: messageOf(err) };
        const st = this.stack(err);
        if (st) d.stack = st;
        eff.dropItem();
        eff.outcome(i, c.outcome, d);
      }
      if (eff.size >= flushAt) this.flush();
    }
    this.flush();
    const fatal = this.fatal as HostFailedError | undefined; // set by flush and query
    if (fatal) return this.failCall(failed, { kind: "host", message: fatal.message });
    return F.StatusOK;
  }
}

/** The object the QuickJS runtime calls: globalThis.__squallEntry. */
export interface Entry {
  init(frame: Uint8Array): number;
  process(frame: Uint8Array): number;
}

const g = globalThis as unknown as {
  __squallEntry?: Entry;
  __squallModules?: number;
};

/** Registers a module with the runtime, when running inside Squall's QuickJS runtime. */
export function register(mod: Module): void {
  const n: (SquallNative & { mapStack?: (s: string) => string }) | undefined = native();
  if (n === undefined) return; // under Node: tests use @squall/sdk/testing
  g.__squallModules = (g.__squallModules ?? 0) + 1;
  if (g.__squallModules > 1) {
    // Two definitions in one bundle: fail every call, saying so.
    const msg = `squall: defineModule was called ${g.__squallModules} times; a module has exactly one definition`;
    const failing = new Instance(mod, n);
    failing.buildError = new DefinitionError([{ where: "definition", msg }]);
    g.__squallEntry = { init: (f) => failing.init(f), process: (f) => failing.process(f) };
    return;
  }
  setNativeEncode(typeof n.encode === "function");
  const inst = new Instance(mod, n);
  if (typeof n.mapStack === "function") inst.mapStack = (s) => n.mapStack!(s);
  g.__squallEntry = { init: (f) => inst.init(f), process: (f) => inst.process(f) };
}
