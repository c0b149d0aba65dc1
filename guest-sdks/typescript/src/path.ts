// Paths (ABI.md §4.4, docs/paths.md): immutable builders whose ABI form is
// a list of steps [opcode, args...]. They run in the host, next to the data.

import { Float64 } from "./value.js";
import { formatValue, kindOf } from "./text.js";

export const Op = {
  Key: 1,
  MustKey: 2,
  MapVals: 3,
  All: 4,
  First: 5,
  Last: 6,
  Nth: 7,
  SortedRange: 8,
  Filter: 9,
  NilToVal: 10,
  View: 11,
  MapKeys: 12,
  Set: 32,
  Incr: 33,
  Append: 34,
  Prepend: 35,
  Remove: 36,
  Merge: 37,
} as const;

export const opNames: Record<number, string> = {
  1: "key",
  2: "mustKey",
  3: "mapVals",
  4: "all",
  5: "first",
  6: "last",
  7: "nth",
  8: "sortedRange",
  9: "filter",
  10: "nilToVal",
  11: "view",
  12: "mapKeys",
  32: "set",
  33: "incr",
  34: "append",
  35: "prepend",
  36: "remove",
  37: "merge",
};

/** Filter comparisons: against the operand in the canonical order of values (docs/paths.md). */
export type FilterOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";
const filterOps = ["eq", "ne", "lt", "le", "gt", "ge", "exists"];

/** View functions: size of a collection, count of navigated values. */
export type ViewFn = "size" | "count";

/** Options of sortedRange: from is inclusive and to exclusive unless said otherwise. */
export interface RangeOpts {
  excludeFrom?: boolean;
  includeTo?: boolean;
  /** At most this many entries (0: no limit). */
  limit?: number;
  /** From the end backwards. */
  reverse?: boolean;
}

/** A path that cannot be built or is used where it does not fit (select vs transform). */
export class PathError extends Error {
  readonly step: number;
  constructor(step: number, nav: string, msg: string) {
    super(`squall: path${step >= 0 ? ` step ${step}${nav ? ` (${nav})` : ""}` : ""}: ${msg}`);
    this.name = "PathError";
    this.step = step;
  }
}

/** One step in ABI form: [opcode, args...]. */
export type Step = readonly unknown[];

/**
 * A path: navigators (key, mustKey, mapVals, mapKeys, all, first, last, nth,
 * sortedRange, filter, nilToVal, view) and at most one terminal at the end
 * for transforms (set, incr, append, prepend, remove, merge).
 * Paths are immutable: every method returns a new path.
 */
export class Path {
  /** The steps in ABI form; this array is what is encoded. */
  readonly steps: readonly Step[];
  constructor(steps: readonly Step[] = []) {
    this.steps = steps;
  }
  private with(s: Step): Path {
    const steps = this.steps.slice();
    steps.push(s);
    return new Path(steps);
  }
  /** Into the value of a map key (nil when absent) or a record field. */
  key(k: unknown): Path {
    return this.with([Op.Key, k]);
  }
  /** Into the value of a key that must exist (nothing when absent). */
  mustKey(k: unknown): Path {
    return this.with([Op.MustKey, k]);
  }
  mapVals(): Path {
    return this.with([Op.MapVals]);
  }
  mapKeys(): Path {
    return this.with([Op.MapKeys]);
  }
  /** Every element of a list or set, every [key, value] entry of a map. */
  all(): Path {
    return this.with([Op.All]);
  }
  first(): Path {
    return this.with([Op.First]);
  }
  last(): Path {
    return this.with([Op.Last]);
  }
  nth(i: number): Path {
    if (!Number.isSafeInteger(i)) throw new PathError(this.steps.length, "nth", `nth needs an int index, not ${i}`);
    return this.with([Op.Nth, i]);
  }
  /** The entries of a sorted map (or elements of a set) from `from` (inclusive) to `to` (exclusive); null/undefined: open. */
  sortedRange(from: unknown, to: unknown, opts?: RangeOpts): Path {
    const o: Record<string, unknown> = {};
    if (opts) {
      if (opts.excludeFrom) o.excludeFrom = true;
      if (opts.includeTo) o.includeTo = true;
      if (opts.limit !== undefined && opts.limit !== 0) {
        if (!Number.isSafeInteger(opts.limit) || opts.limit < 0 || opts.limit > 2147483647) {
          throw new PathError(this.steps.length, "sortedRange", `limit must be 0 (no limit) or positive, not ${opts.limit}`);
        }
        o.limit = opts.limit;
      }
      if (opts.reverse) o.reverse = true;
    }
    const f = from === undefined ? null : from;
    const t = to === undefined ? null : to;
    return this.with(Object.keys(o).length === 0 ? [Op.SortedRange, f, t] : [Op.SortedRange, f, t, o]);
  }
  /** Keeps the values that compare so with v. */
  filter(op: FilterOp, v: unknown): Path {
    if (!filterOps.includes(op) || op === ("exists" as string)) {
      throw new PathError(this.steps.length, "filter", `unknown filter comparison ${JSON.stringify(op)}; use "eq", "ne", "lt", "le", "gt" or "ge"`);
    }
    return this.with([Op.Filter, op, v]);
  }
  /** Keeps the values that are not nil. */
  filterExists(): Path {
    return this.with([Op.Filter, "exists"]);
  }
  /** Replaces nil with v. */
  nilToVal(v: unknown): Path {
    return this.with([Op.NilToVal, v]);
  }
  view(fn: ViewFn): Path {
    if (fn !== "size" && fn !== "count") {
      throw new PathError(this.steps.length, "view", `unknown view function ${JSON.stringify(fn)}; use "size" or "count"`);
    }
    return this.with([Op.View, fn]);
  }
  // Terminals.
  set(v: unknown): Path {
    return this.with([Op.Set, v]);
  }
  remove(): Path {
    return this.with([Op.Remove]);
  }
  /** Adds n (an int; a non-integral number adds a float; nil counts as 0). */
  incr(n: number | bigint): Path {
    if (typeof n !== "number" && typeof n !== "bigint") throw new PathError(this.steps.length, "incr", `incr needs a number, not ${typeof n}`);
    return this.with([Op.Incr, n]);
  }
  /** Adds f as a float, even when it is whole (incrFloat(2) adds 2.0). */
  incrFloat(f: number): Path {
    return this.with([Op.Incr, new Float64(f)]);
  }
  append(...vs: unknown[]): Path {
    return this.with([Op.Append, ...vs]);
  }
  prepend(...vs: unknown[]): Path {
    return this.with([Op.Prepend, ...vs]);
  }
  /** Merges the entries of map m into the map. */
  merge(m: unknown): Path {
    const k = kindOf(m);
    if (k !== "map" && k !== "nil") throw new PathError(this.steps.length, "merge", `merge needs a map, not ${k}`);
    return this.with([Op.Merge, m]);
  }
  /** The number of steps. */
  get length(): number {
    return this.steps.length;
  }
  /** Renders the path like docs/paths.md: key("a").incr(1). */
  toString(): string {
    return this.steps.map(stepText).join(".");
  }
}

export function stepText(s: Step): string {
  const op = s[0] as number;
  const name = opNames[op] ?? `op(${op})`;
  const args = s.slice(1);
  switch (op) {
    case Op.SortedRange: {
      const b = (v: unknown) => (v === null || v === undefined ? "open" : formatValue(v));
      let t = `${b(args[0])}, ${b(args[1])}`;
      const o = (args[2] ?? {}) as RangeOpts;
      if (o.excludeFrom) t += ", excludeFrom";
      if (o.includeTo) t += ", includeTo";
      if (o.limit) t += `, limit=${o.limit}`;
      if (o.reverse) t += ", reverse";
      return `${name}(${t})`;
    }
    case Op.Filter:
      return `${name}(${args.map((a, i) => (i === 0 ? String(a) : formatValue(a))).join(", ")})`;
    case Op.View:
      return `${name}(${String(args[0])})`;
  }
  return `${name}(${args.map((a) => formatValue(a)).join(", ")})`;
}

/** The empty path (navigates to the whole value). */
export function path(): Path {
  return new Path();
}

/** A path that starts with key(k). */
export function key(k: unknown): Path {
  return new Path([[Op.Key, k]]);
}

/** A path that starts with mustKey(k). */
export function mustKey(k: unknown): Path {
  return new Path([[Op.MustKey, k]]);
}

export type PathMode = "select" | "transform";

/** Checks where terminals and views appear; returns the problem or undefined. */
export function validatePath(p: Path, mode: PathMode): PathError | undefined {
  const n = p.steps.length;
  for (let i = 0; i < n; i++) {
    const s = p.steps[i]!;
    const op = s[0] as number;
    if (op >= 32) {
      if (mode === "select") {
        return new PathError(i, stepText(s), "a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms");
      }
      if (i !== n - 1) return new PathError(i, stepText(s), `a terminal must be the last step of a path; ${n - 1 - i} step(s) follow it`);
    }
    if (op === Op.View && mode === "transform") {
      return new PathError(i, stepText(s), "view is read-only and cannot appear in a transform; select the value, compute, then transform");
    }
  }
  if (mode === "transform" && (n === 0 || (p.steps[n - 1]![0] as number) < 32)) {
    return new PathError(-1, "", "a transform path must end with a terminal (set, remove, incr, append, prepend or merge)");
  }
  return undefined;
}

function isInt(v: unknown): boolean {
  return kindOf(v) === "int";
}

/** Reads the ABI form of a path (a decoded value); checks opcodes and arguments, not terminal placement. */
export function parsePath(v: unknown): Path {
  if (!Array.isArray(v)) throw new PathError(-1, "", `a path is a list of steps, not ${kindOf(v)}`);
  const steps: Step[] = [];
  v.forEach((sv, i) => {
    const msg = parseStep(sv);
    if (msg) throw new PathError(i, "", msg);
    steps.push(sv as Step);
  });
  return new Path(steps);
}

function parseStep(sv: unknown): string {
  if (!Array.isArray(sv) || sv.length === 0) return `a step is a non-empty list [opcode, args...], not ${formatValue(sv)}`;
  const code = sv[0];
  if (!isInt(code)) return `the opcode must be an int, not ${kindOf(code)}`;
  const op = Number(code);
  const name = opNames[op];
  if (name === undefined) return `unknown opcode ${code}`;
  const args = sv.slice(1);
  const want = (...counts: number[]) =>
    counts.includes(args.length) ? "" : `${name} takes ${counts.join(" or ")} argument(s), got ${args.length}`;
  switch (op) {
    case Op.Key:
    case Op.MustKey:
    case Op.NilToVal:
    case Op.Set:
    case Op.Incr:
    case Op.Merge: {
      const m = want(1);
      if (m) return m;
      const k = kindOf(args[0]);
      if (op === Op.Incr && k !== "int" && k !== "float") return `incr needs an int or float amount, not ${k}`;
      if (op === Op.Merge && k !== "map" && k !== "nil") return `merge needs a map, not ${k}`;
      return "";
    }
    case Op.MapVals:
    case Op.MapKeys:
    case Op.All:
    case Op.First:
    case Op.Last:
    case Op.Remove:
      return want(0);
    case Op.Nth: {
      const m = want(1);
      if (m) return m;
      return isInt(args[0]) ? "" : `nth needs an int index, not ${kindOf(args[0])}`;
    }
    case Op.SortedRange: {
      const m = want(2, 3);
      if (m) return m;
      return args.length === 3 ? rangeOptsProblem(args[2]) : "";
    }
    case Op.Filter: {
      if (args.length === 0) return want(1, 2);
      const f = typeof args[0] === "string" && filterOps.includes(args[0]) ? args[0] : "";
      if (!f) return `unknown filter comparison ${formatValue(args[0])}; use "eq", "ne", "lt", "le", "gt", "ge" or "exists"`;
      if (f === "exists" && args.length !== 1) return "filter exists takes no operand";
      if (f !== "exists" && args.length !== 2) return `filter ${f} takes an operand: [9, "${f}", v]`;
      return "";
    }
    case Op.View: {
      const m = want(1);
      if (m) return m;
      return args[0] === "size" || args[0] === "count" ? "" : `unknown view function ${formatValue(args[0])}; use "size" or "count"`;
    }
  }
  return "";
}

function rangeOptsProblem(v: unknown): string {
  if (kindOf(v) !== "map") return `sortedRange options must be a map, not ${kindOf(v)}`;
  const es: [unknown, unknown][] = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
  for (const [k, val] of es) {
    switch (k) {
      case "excludeFrom":
      case "includeTo":
      case "reverse":
        if (typeof val !== "boolean") return `sortedRange option ${k} must be a bool, not ${kindOf(val)}`;
        break;
      case "limit": {
        const n = typeof val === "bigint" ? Number(val) : (val as number);
        if (!isInt(val) || n < 0 || n > 2147483647) return `sortedRange option limit must be an int from 0 to 2147483647, not ${formatValue(val)}`;
        break;
      }
      default:
        return `unknown sortedRange option ${formatValue(k)}; use "excludeFrom", "includeTo", "limit" or "reverse"`;
    }
  }
  return "";
}
