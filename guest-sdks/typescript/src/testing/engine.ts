// The in-memory host's path engine: select and transform with the host's
// semantics, schema checks and messages (a port of the Go SDK's
// squalltest engine, itself checked against storage/testdata/pstate).

import { Op, opNames, parsePath, stepText, validatePath, type PathMode } from "../path.js";
import { formatValue } from "../text.js";
import {
  compare,
  equal,
  floatOf,
  intOf,
  isNil,
  items,
  kind,
  locString,
  mapGet,
  mkFloat,
  mkInt,
  mkMap,
  mkSet,
  orderedElems,
  orderedEntries,
  setHas,
  shortValue,
  size,
  WorkMap,
  entries,
} from "./values.js";
import {
  checkKey,
  checkValue,
  childSchema,
  elemS,
  emptyOf,
  isExploded,
  keySchema,
  schemaString,
  t,
  valSchema,
  type HSchema,
  type SchemaError,
} from "./schema.js";

export interface Step {
  op: number;
  arg?: unknown;
  items?: unknown[];
  index?: number;
  from?: unknown;
  to?: unknown;
  excludeFrom?: boolean;
  includeTo?: boolean;
  limit?: number;
  reverse?: boolean;
  filter?: string;
  view?: string;
  text: string;
}

/** A path that does not fit the data or the schema. */
export class EnginePathError extends Error {
  readonly schema: boolean;
  constructor(step: number, nav: string, at: string, msg: string, path: string, schema = false) {
    let s = step >= 0 ? `step ${step} ${nav}` : "path";
    if (at) s += " at " + at;
    s += ": " + msg;
    if (path && step >= 0) s += ` (in path ${path})`;
    super(s);
    this.schema = schema;
  }
}

/** Parses and validates an ABI path value; throws an Error with the host's message. */
export function pathSteps(v: unknown, mode: PathMode): { steps: Step[]; text: string } {
  let p;
  try {
    p = parsePath(v);
  } catch (e) {
    throw new EnginePathError(-1, "", "", (e as Error).message.replace(/^squall: path: /, "").replace(/^squall: /, ""), "");
  }
  const bad = validatePath(p, mode);
  if (bad) {
    const m = /^squall: path step (\d+) \((.*)\): (.*)$/s.exec(bad.message);
    if (m) throw new EnginePathError(Number(m[1]), m[2]!, "", m[3]!, p.toString());
    throw new EnginePathError(-1, "", "", bad.message.replace(/^squall: path: /, ""), p.toString());
  }
  const steps = p.steps.map((sv) => {
    const a = sv.slice(1);
    const s: Step = { op: sv[0] as number, text: stepText(sv) };
    switch (s.op) {
      case Op.Key:
      case Op.MustKey:
      case Op.NilToVal:
      case Op.Set:
      case Op.Incr:
      case Op.Merge:
        s.arg = a[0];
        break;
      case Op.Nth:
        s.index = Number(a[0]);
        break;
      case Op.SortedRange: {
        s.from = a[0];
        s.to = a[1];
        if (a.length === 3) {
          const o = new Map(entries(a[2]) as [string, unknown][]);
          s.excludeFrom = o.get("excludeFrom") === true;
          s.includeTo = o.get("includeTo") === true;
          s.reverse = o.get("reverse") === true;
          s.limit = Number(o.get("limit") ?? 0);
        }
        break;
      }
      case Op.Filter:
        s.filter = a[0] as string;
        if (a.length === 2) s.arg = a[1];
        break;
      case Op.View:
        s.view = a[0] as string;
        break;
      case Op.Append:
      case Op.Prepend:
        s.items = a;
    }
    return s;
  });
  return { steps, text: p.toString() };
}

function navApplies(s: HSchema | undefined, n: Step): string {
  const ty = t(s);
  if (ty === "" || ty === "any") return "";
  let ok: boolean;
  let want: string;
  switch (n.op) {
    case Op.Key:
    case Op.MustKey:
      [ok, want] = [ty === "map" || ty === "record" || ty === "set", "maps, records and sets"];
      break;
    case Op.MapVals:
    case Op.MapKeys:
      [ok, want] = [ty === "map" || ty === "record", "maps and records"];
      break;
    case Op.All:
    case Op.First:
    case Op.Last:
      [ok, want] = [ty === "map" || ty === "record" || ty === "set" || ty === "list", "maps, records, sets and lists"];
      break;
    case Op.Nth:
      [ok, want] = [ty === "list", "lists"];
      break;
    case Op.SortedRange:
      [ok, want] = [ty === "map" || ty === "set", "maps and sets (sorted by key)"];
      break;
    case Op.Append:
      [ok, want] = [ty === "list" || ty === "set", "lists and sets"];
      break;
    case Op.Prepend:
      [ok, want] = [ty === "list", "lists"];
      break;
    case Op.Merge:
      [ok, want] = [ty === "map" || ty === "record", "maps and records"];
      break;
    case Op.Incr:
      [ok, want] = [ty === "int" || ty === "float", "ints and floats"];
      break;
    default:
      return "";
  }
  return ok ? "" : `the schema says ${schemaString(s)} here; ${opNames[n.op]} applies to ${want}`;
}

function navAppliesToKind(v: unknown, n: Step): string {
  const k = kind(v);
  if (k === "nil") return "";
  const isColl = k === "map" || k === "set" || k === "list";
  let ok: boolean;
  let want: string;
  switch (n.op) {
    case Op.Key:
    case Op.MustKey:
      [ok, want] = [k === "map" || k === "set", "maps, records and sets"];
      break;
    case Op.MapVals:
    case Op.MapKeys:
      [ok, want] = [k === "map", "maps and records"];
      break;
    case Op.All:
    case Op.First:
    case Op.Last:
      [ok, want] = [isColl, "maps, records, sets and lists"];
      break;
    case Op.Nth:
      [ok, want] = [k === "list", "lists"];
      break;
    case Op.SortedRange:
      [ok, want] = [k === "map" || k === "set", "maps and sets"];
      break;
    case Op.Append:
      [ok, want] = [k === "list" || k === "set", "lists and sets"];
      break;
    case Op.Prepend:
      [ok, want] = [k === "list", "lists"];
      break;
    case Op.Merge:
      [ok, want] = [k === "map", "maps and records"];
      break;
    case Op.Incr:
      [ok, want] = [k === "int" || k === "float", "ints and floats"];
      break;
    case Op.View:
      [ok, want] = [n.view !== "size" || isColl, "maps, records, sets and lists (view(count) counts any value)"];
      break;
    default:
      return "";
  }
  return ok ? "" : `found ${k} ${shortValue(v)}; ${opNames[n.op]} applies to ${want}`;
}

function compareIntFloat(i: bigint, f: number): [number, boolean] {
  if (f !== f) return [0, false];
  if (f >= 2 ** 63) return [-1, true];
  if (f < -(2 ** 63)) return [1, true];
  const tr = Math.trunc(f);
  const ti = BigInt(tr);
  if (i < ti) return [-1, true];
  if (i > ti) return [1, true];
  if (f > tr) return [-1, true];
  if (f < tr) return [1, true];
  return [0, true];
}

function compareForFilter(a: unknown, b: unknown): [number, boolean] {
  const ka = kind(a);
  const kb = kind(b);
  if (ka === "int" && kb === "float") return compareIntFloat(intOf(a), floatOf(b));
  if (ka === "float" && kb === "int") {
    const [c, ok] = compareIntFloat(intOf(b), floatOf(a));
    return [-c, ok];
  }
  if (ka === "float" && kb === "float") {
    const x = floatOf(a);
    const y = floatOf(b);
    if (x !== x || y !== y) return [0, x !== x && y !== y];
    return [x < y ? -1 : x > y ? 1 : 0, true];
  }
  if (ka !== kb) return [0, false];
  return [compare(a, b), true];
}

export function filterMatch(op: string, v: unknown, arg: unknown): boolean {
  if (op === "exists") return !isNil(v);
  const [c, ok] = compareForFilter(v, arg);
  switch (op) {
    case "eq":
      return ok && c === 0;
    case "ne":
      return !ok || c !== 0;
    case "lt":
      return ok && c < 0;
    case "le":
      return ok && c <= 0;
    case "gt":
      return ok && c > 0;
    case "ge":
      return ok && c >= 0;
  }
  return false;
}

function viewOf(v: unknown): number {
  const k = kind(v);
  if (k === "nil") return 0;
  if (k === "map" || k === "set" || k === "list") return size(v);
  return 1;
}

function listIndex(i: number, n: number): number {
  if (i < 0) i += n;
  return i < 0 || i >= n ? -1 : i;
}

function inRange(k: unknown, n: Step): boolean {
  if (!isNil(n.from)) {
    const c = compare(k, n.from);
    if (c < 0 || (c === 0 && n.excludeFrom)) return false;
  }
  if (!isNil(n.to)) {
    const c = compare(k, n.to);
    if (c > 0 || (c === 0 && !n.includeTo)) return false;
  }
  return true;
}

interface XRes {
  v: unknown;
  removed?: boolean;
  changed?: boolean;
}

const intSchema: HSchema = { typ: "int", subindexed: false, exploded: false };

class Engine {
  stack: unknown[] = [];
  constructor(
    readonly steps: Step[],
    readonly path: string,
    readonly nodes: boolean,
  ) {}

  loc(): string {
    return locString(this.stack);
  }
  err(i: number, msg: string): EnginePathError {
    return new EnginePathError(i, this.steps[i]!.text, this.loc(), msg, this.path);
  }
  schemaErr(i: number, se: SchemaError): EnginePathError {
    return new EnginePathError(i, this.steps[i]!.text, this.loc(), se.msg, this.path, true);
  }
  applies(v: unknown, s: HSchema | undefined, i: number): void {
    const m = navApplies(s, this.steps[i]!) || navAppliesToKind(v, this.steps[i]!);
    if (m) throw this.err(i, m);
  }
  withKey<T>(k: unknown, f: () => T): T {
    this.stack.push(k);
    try {
      return f();
    } finally {
      this.stack.pop();
    }
  }

  sel(v: unknown, s: HSchema | undefined, i: number, rng: Step[], node: boolean, emit: (v: unknown) => void): void {
    if (i === this.steps.length) {
      if (node && i > 0) this.wholeNode(s, i - 1, rng);
      emit(v);
      return;
    }
    const n = this.steps[i]!;
    this.applies(v, s, i);
    switch (n.op) {
      case Op.Key:
      case Op.MustKey: {
        const [cs, se] = childSchema(s, n.arg, this.loc());
        if (se) throw this.schemaErr(i, se);
        if (!this.keyInRange(rng, i)) return;
        const childNode = node && isExploded(cs);
        const k = kind(v);
        if (k === "set" || (isNil(v) && t(s) === "set")) {
          if (!setHas(v, n.arg)) return;
          this.sel(n.arg, cs, i + 1, [], false, emit);
          return;
        }
        if (k === "map") {
          const [c, ok] = mapGet(v, n.arg);
          if (!ok && n.op === Op.MustKey) return;
          this.withKey(n.arg, () => this.sel(c, cs, i + 1, [], childNode, emit));
          return;
        }
        if (n.op === Op.MustKey) return;
        this.withKey(n.arg, () => this.sel(null, cs, i + 1, [], childNode, emit));
        return;
      }
      case Op.MapVals:
      case Op.MapKeys:
      case Op.All:
      case Op.First:
      case Op.Last: {
        const vk = kind(v);
        this.each(v, s, n.op, rng, (k, c, cs) => {
          if (n.op === Op.MapKeys) this.sel(k, keySchema(s), i + 1, [], false, emit);
          else if (vk === "map" && n.op === Op.MapVals) this.withKey(k, () => this.sel(c, cs, i + 1, [], node && isExploded(cs), emit));
          else if (vk === "map") {
            if (node && isExploded(cs)) {
              throw this.err(i, `${opNames[n.op]} navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()`);
            }
            this.sel([k, c], undefined, i + 1, [], false, emit);
          } else if (vk === "list") this.withKey(k, () => this.sel(c, cs, i + 1, [], node && isExploded(cs), emit));
          else this.sel(c, cs, i + 1, [], false, emit);
        });
        return;
      }
      case Op.Nth: {
        if (isNil(v)) return;
        const idx = listIndex(n.index!, size(v));
        if (idx < 0) return;
        this.withKey(idx, () => this.sel((v as unknown[])[idx], elemS(s), i + 1, [], node && isExploded(elemS(s)), emit));
        return;
      }
      case Op.SortedRange: {
        if (node) for (const r of rng) if ((r.limit ?? 0) > 0 && isExploded(s)) {
          throw this.err(i, "a sortedRange inside a sortedRange with a limit is not supported on a subindexed collection; combine the two into one range");
        }
        const sub = this.subRange(v, s, i);
        this.sel(sub, s, i + 1, [...rng, n], node, emit);
        return;
      }
      case Op.Filter:
        if (node && n.filter !== "exists") {
          throw this.err(i, `filter(${n.filter}) cannot compare a whole subindexed ${t(s)}; navigate into it first (all, mapVals, view(size))`);
        }
        if (!filterMatch(n.filter!, v, n.arg)) return;
        this.sel(v, s, i + 1, rng, node, emit);
        return;
      case Op.NilToVal:
        if (isNil(v)) this.sel(n.arg, s, i + 1, rng, false, emit);
        else this.sel(v, s, i + 1, rng, node, emit);
        return;
      case Op.View:
        this.sel(viewOf(v), intSchema, i + 1, [], false, emit);
        return;
    }
    throw this.err(i, `${opNames[n.op]} is not a navigator`);
  }

  wholeNode(s: HSchema | undefined, i: number, rng: Step[]): void {
    if (rng.length > 0) {
      if (t(s) === "map" && isExploded(s!.val)) {
        throw this.err(i, "the range holds subindexed values, which are not returned whole; navigate into them (mapVals, mapKeys)");
      }
      return;
    }
    let what = "a subindexed " + t(s);
    if (this.stack.length === 0 && t(s) === "map") what = "the whole top-level map of the partition";
    else if (t(s) === "record") what = "a record with subindexed fields";
    throw this.err(i, `the path ends at ${what}, which is not returned whole; navigate into it (key, mustKey, all, mapVals, mapKeys, sortedRange, view(size))`);
  }

  each(v: unknown, s: HSchema | undefined, op: number, rng: Step[], f: (k: unknown, c: unknown, cs: HSchema | undefined) => void): void {
    let desc = rng.length > 0 && !!rng[rng.length - 1]!.reverse;
    let elems: [unknown, unknown][];
    switch (kind(v)) {
      case "map":
        elems = orderedEntries(v);
        break;
      case "set":
        elems = orderedElems(v).map((e) => [e, e]);
        break;
      case "list":
        elems = (v as unknown[]).map((x, j) => [j, x]);
        desc = false;
        break;
      default:
        return;
    }
    if (desc) elems.reverse();
    if (op === Op.First) elems = elems.slice(0, 1);
    else if (op === Op.Last) elems = elems.slice(Math.max(0, elems.length - 1));
    for (const [k, c] of elems) f(k, c, valSchema(s, k));
  }

  keyInRange(rng: Step[], i: number): boolean {
    for (const r of rng) {
      if ((r.limit ?? 0) > 0) {
        throw this.err(i, `${opNames[this.steps[i]!.op]} right after a sortedRange with a limit is not supported; apply the key to the collection itself`);
      }
    }
    for (const r of rng) if (!inRange(this.steps[i]!.arg, r)) return false;
    return true;
  }

  subRange(v: unknown, s: HSchema | undefined, i: number): unknown {
    const n = this.steps[i]!;
    const lim = (xs: any[]) => {
      const l = n.limit ?? 0;
      if (l > 0 && xs.length > l) return n.reverse ? xs.slice(xs.length - l) : xs.slice(0, l);
      return xs;
    };
    switch (kind(v)) {
      case "nil":
        return emptyOf(s);
      case "map":
        return mkMap(lim(orderedEntries(v).filter(([k]) => inRange(k, n))));
      case "set":
        return mkSet(lim(orderedElems(v).filter((e) => inRange(e, n))));
    }
    throw this.err(i, `found ${kind(v)}; sortedRange applies to maps and sets`);
  }

  // Transforms.

  xf(v: unknown, s: HSchema | undefined, i: number, rng: Step[]): XRes {
    const n = this.steps[i]!;
    this.applies(v, s, i);
    switch (n.op) {
      case Op.Set: {
        const se = checkValue(s, n.arg, this.loc());
        if (se) throw this.schemaErr(i, se);
        return { v: n.arg, changed: !equal(v, n.arg) };
      }
      case Op.Remove:
        return { v: null, removed: true, changed: true };
      case Op.Incr: {
        const nv = this.incr(v, s, i);
        return { v: nv, changed: !equal(v, nv) };
      }
      case Op.Append:
      case Op.Prepend:
        return this.addItems(v, s, i);
      case Op.Merge:
        return this.merge(v, s, i);
      case Op.Key:
      case Op.MustKey:
        return this.xfKey(v, s, i, rng);
      case Op.MapVals:
      case Op.MapKeys:
      case Op.All:
      case Op.First:
      case Op.Last:
        return this.xfEach(v, s, i, rng);
      case Op.Nth: {
        if (isNil(v)) throw this.err(i, `nth(${n.index}) is out of range: there is no list here; use append or prepend to add items`);
        const idx = listIndex(n.index!, size(v));
        if (idx < 0) throw this.err(i, `nth(${n.index}) is out of range: the list has ${size(v)} items; use append or prepend to add items`);
        return this.xfList(v as unknown[], s, i, [idx]);
      }
      case Op.SortedRange:
        return this.xfRange(v, s, i, rng);
      case Op.Filter:
        if (this.nodes && n.filter !== "exists" && isExploded(s)) {
          throw this.err(i, `filter(${n.filter}) cannot compare a whole subindexed ${t(s)}; navigate into it first (all, mapVals)`);
        }
        if (!filterMatch(n.filter!, v, n.arg)) return { v };
        return this.xf(v, s, i + 1, rng);
      case Op.NilToVal: {
        if (!isNil(v)) return this.xf(v, s, i + 1, rng);
        const r = this.xf(n.arg, s, i + 1, rng);
        if (!r.removed) {
          const se = checkValue(s, r.v, this.loc());
          if (se) throw this.schemaErr(i, se);
        }
        return { v: r.v, removed: r.removed, changed: !r.removed || r.changed };
      }
    }
    throw this.err(i, `${opNames[n.op]} cannot appear in a transform`);
  }

  incr(v: unknown, s: HSchema | undefined, i: number): unknown {
    const amt = this.steps[i]!.arg;
    const aIsInt = kind(amt) === "int";
    const af = aIsInt ? Number(intOf(amt)) : floatOf(amt);
    const floatResult = !aIsInt || t(s) === "float" || kind(v) === "float";
    if (floatResult && t(s) === "int") {
      throw this.err(i, `the schema says int here; incr by a float (${formatValue(amt)}) would store a float; incr by an int`);
    }
    switch (kind(v)) {
      case "nil":
        return floatResult ? mkFloat(af) : amt;
      case "int": {
        const x = intOf(v);
        if (floatResult) return mkFloat(Number(x) + af);
        const sum = x + intOf(amt);
        if (sum > 9223372036854775807n || sum < -9223372036854775808n) throw this.err(i, `${x} + ${intOf(amt)} overflows a 64-bit int`);
        return mkInt(sum);
      }
      case "float":
        return mkFloat(floatOf(v) + af);
    }
    throw this.err(i, `found ${kind(v)} ${shortValue(v)}; incr applies to ints and floats (and nil, counted as 0)`);
  }

  addItems(v: unknown, s: HSchema | undefined, i: number): XRes {
    const n = this.steps[i]!;
    const es = elemS(s);
    const isSet = kind(v) === "set" || (isNil(v) && t(s) === "set");
    const its = n.items ?? [];
    its.forEach((it, j) => {
      const se = isSet ? checkKey(es, it, this.loc()) : checkValue(es, it, `${this.loc()}[${size(v) + j}]`);
      if (se) throw this.schemaErr(i, se);
    });
    if (this.nodes && isExploded(s) && t(s) === "list" && isExploded(es)) {
      for (const it of its) {
        if (isNil(it)) throw this.err(i, `the items of this list are subindexed ${t(es)}s, which cannot be nil; add an empty ${t(es)}`);
      }
    }
    if (isSet) {
      if (n.op === Op.Prepend) throw this.err(i, "prepend applies to lists; use append to add to a set");
      if (its.length === 0) return { v };
      const old = items(v);
      const added = its.filter((it) => !setHas(v, it));
      if (added.length === 0 && !isNil(v)) return { v };
      return { v: mkSet([...old, ...added]), changed: true };
    }
    if (its.length === 0) return { v };
    const old = items(v);
    return { v: n.op === Op.Append ? [...old, ...its] : [...its, ...old], changed: true };
  }

  merge(v: unknown, s: HSchema | undefined, i: number): XRes {
    const w = new WorkMap(v);
    let changed = false;
    for (const [k, x] of orderedEntries(this.steps[i]!.arg)) {
      const [cs, se0] = childSchema(s, k, this.loc());
      const se = se0 ?? checkValue(cs, x, locString([...this.stack, k]));
      if (se) throw this.schemaErr(i, se);
      if (w.setEntry(k, x)) changed = true;
    }
    return changed ? { v: w.value(), changed: true } : { v };
  }

  xfKey(v: unknown, s: HSchema | undefined, i: number, rng: Step[]): XRes {
    const n = this.steps[i]!;
    const k = n.arg;
    const [cs, se] = childSchema(s, k, this.loc());
    if (se) throw this.schemaErr(i, se);
    if (!this.keyInRange(rng, i)) return { v };
    if (kind(v) === "set" || (isNil(v) && t(s) === "set")) {
      if (!setHas(v, k)) return { v };
      return this.xfSetElems(v, s, i, [k]);
    }
    const [old, present] = mapGet(v, k);
    if (!present && n.op === Op.MustKey) return { v };
    const r = this.withKey(k, () => this.xf(old, cs, i + 1, []));
    if (!r.changed) return { v };
    const gone = r.removed || isNil(r.v);
    const w = new WorkMap(v);
    if (!present && gone) return { v };
    if (gone) w.del(k);
    else w.set(k, r.v);
    return { v: w.value(), changed: true };
  }

  xfEach(v: unknown, s: HSchema | undefined, i: number, rng: Step[]): XRes {
    const op = this.steps[i]!.op;
    switch (kind(v)) {
      case "nil":
        return { v };
      case "list": {
        let idx = (v as unknown[]).map((_, j) => j);
        if (op === Op.First) idx = idx.slice(0, 1);
        else if (op === Op.Last) idx = idx.slice(Math.max(0, idx.length - 1));
        return this.xfList(v as unknown[], s, i, idx);
      }
      case "set": {
        const elems: unknown[] = [];
        this.each(v, s, op, rng, (k) => elems.push(k));
        return this.xfSetElems(v, s, i, elems);
      }
    }
    const keys: unknown[] = [];
    this.each(v, s, op, rng, (k) => keys.push(k));
    return this.xfMapEntries(v, s, i, keys);
  }

  xfList(v: unknown[], s: HSchema | undefined, i: number, idx: number[]): XRes {
    const out: unknown[] = [];
    let changed = false;
    let next = 0;
    for (const j of idx) {
      out.push(...v.slice(next, j));
      next = j + 1;
      const r = this.withKey(out.length, () => this.xf(v[j], elemS(s), i + 1, []));
      if (r.removed) {
        changed = true;
        continue;
      }
      if (r.changed && isNil(r.v) && this.nodes && isExploded(s) && isExploded(elemS(s))) {
        const et = t(elemS(s));
        throw this.err(i, `the items of this list are subindexed ${et}s, which cannot be nil; set an empty ${et} or remove the item`);
      }
      changed = changed || !!r.changed;
      out.push(r.v);
    }
    if (!changed) return { v };
    out.push(...v.slice(next));
    return { v: out, changed: true };
  }

  xfSetElems(v: unknown, s: HSchema | undefined, i: number, elems: unknown[]): XRes {
    const es = t(s) === "set" ? elemS(s) : undefined;
    const removed: unknown[] = [];
    const added: unknown[] = [];
    for (const e of elems) {
      const r = this.xf(e, es, i + 1, []);
      if (!r.changed) continue;
      if (r.removed || isNil(r.v)) {
        removed.push(e);
        continue;
      }
      const se = checkKey(es, r.v, this.loc());
      if (se) throw this.schemaErr(i, se);
      removed.push(e);
      added.push(r.v);
    }
    if (removed.length === 0 && added.length === 0) return { v };
    const out = items(v).filter((e) => !removed.some((x) => equal(x, e)));
    return { v: mkSet([...out, ...added]), changed: true };
  }

  xfMapEntries(v: unknown, s: HSchema | undefined, i: number, keys: unknown[]): XRes {
    const op = this.steps[i]!.op;
    const w = new WorkMap(v);
    let changed = false;
    for (const k of keys) {
      const [old, present] = w.get(k);
      if (!present) continue;
      let r: XRes;
      if (op === Op.MapVals) r = this.withKey(k, () => this.xf(old, valSchema(s, k), i + 1, []));
      else if (op === Op.MapKeys) r = this.xf(k, keySchema(s), i + 1, []);
      else {
        if (this.nodes && isExploded(valSchema(s, k))) {
          throw this.err(i, `${opNames[op]} navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()`);
        }
        r = this.xf([k, old], undefined, i + 1, []);
      }
      if (!r.changed) continue;
      changed = true;
      if (op === Op.MapVals) {
        if (r.removed || isNil(r.v)) w.del(k);
        else w.set(k, r.v);
        continue;
      }
      if (r.removed || isNil(r.v)) {
        w.del(k);
        continue;
      }
      let nk = r.v;
      let nv = old;
      if (op !== Op.MapKeys) {
        if (kind(r.v) !== "list" || size(r.v) !== 2) {
          throw this.err(i, `${opNames[op]} on a map navigates [key, value] entries; the transform made ${shortValue(r.v)}; set a [key, value] list or remove the entry`);
        }
        [nk, nv] = r.v as unknown[];
      }
      const [cs, se0] = childSchema(s, nk, this.loc());
      const se = se0 ?? checkValue(cs, nv, locString([...this.stack, nk]));
      if (se) throw this.schemaErr(i, se);
      if (this.nodes && t(s) === "record" && op === Op.MapKeys && !equal(nk, k)) {
        const fs = valSchema(s, k);
        if (isExploded(fs) && schemaString(fs) !== schemaString(cs)) {
          throw this.err(i, "mapKeys() cannot rename a subindexed field of a record to a field of another schema");
        }
      }
      if (equal(nk, k)) {
        w.setEntry(k, nv);
        continue;
      }
      w.del(k);
      w.setEntry(nk, nv);
    }
    return changed ? { v: w.value(), changed: true } : { v };
  }

  xfRange(v: unknown, s: HSchema | undefined, i: number, rng: Step[]): XRes {
    const sub = this.subRange(v, s, i);
    const r = this.xf(sub, s, i + 1, [...rng, this.steps[i]!]);
    if (!r.changed) return { v };
    const nsub = r.removed ? null : r.v;
    const se = checkValue(s, nsub, this.loc());
    if (se) throw this.schemaErr(i, se);
    const nk = kind(nsub);
    const sk = kind(sub);
    if (nk !== "nil" && nk !== sk && sk !== "nil") {
      throw this.err(i, `the transform replaced a sorted range of a ${sk} with ${nk} ${shortValue(nsub)}; set a ${sk} or remove the range`);
    }
    if (equal(sub, nsub) || (size(sub) === 0 && isNil(nsub))) return { v };
    if (sk === "set" || nk === "set") {
      const out = items(v).filter((e) => !setHas(sub, e));
      return { v: mkSet([...out, ...items(nsub)]), changed: true };
    }
    const w = new WorkMap(v);
    for (const [k] of entries(sub)) w.del(k);
    if (!isNil(nsub)) for (const [k, x] of entries(nsub)) w.set(k, x);
    return { v: w.value(), changed: true };
  }
}

export function selectValue(root: unknown, s: HSchema | undefined, steps: Step[], path: string, node: boolean): unknown[] {
  const m = new Engine(steps, path, node);
  const out: unknown[] = [];
  m.sel(root, s, 0, [], node && (t(s) === "map" || isExploded(s)), (v) => out.push(v));
  return out;
}

export function transformValue(root: unknown, s: HSchema | undefined, steps: Step[], path: string, node: boolean): unknown {
  const m = new Engine(steps, path, node);
  const r = m.xf(root, s, 0, []);
  return r.removed ? null : r.v;
}

