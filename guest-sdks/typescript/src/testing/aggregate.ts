// The host's aggregators (abi.Aggregate, ABI.md §15.3) for the in-memory
// host, checked against abi/testdata/frames/aggregate.jsonl.

import { formatValue } from "../text.js";
import { compare, entries, equal, floatOf, intOf, isNil, items, kind, keyId, mkFloat, mkInt, mkMap, mkSet } from "./values.js";

const names = ["", "COUNT", "SUM", "MIN", "MAX", "SET", "LIST", "MAP", "TOP_N"];
const maxTopN = 10_000;
const minInt = -(2n ** 63n);
const maxInt = 2n ** 63n - 1n;

/** Why a value cannot be aggregated (the host rejects the effect with EINVAL). */
export class AggregateError extends Error {
  constructor(agg: number, msg: string) {
    super(`${names[agg] ?? `aggregator(${agg})`}: ${msg}`);
    this.name = "AggregateError";
  }
}

/** Checks the shape of v (and n for TOP_N), independently of the accumulator. */
export function checkAggregateValue(agg: number, v: unknown, n: number): void {
  const fail = (msg: string): never => {
    throw new AggregateError(agg, msg);
  };
  switch (agg) {
    case 1:
      if (!isNil(v)) fail(`the value must be nil, not ${kind(v)}`);
      return;
    case 2:
      if (kind(v) !== "int" && kind(v) !== "float") fail(`the value must be an int or a float, not ${kind(v)}`);
      return;
    case 3:
    case 4:
    case 6:
      return;
    case 5:
      if (kind(v) === "float") fail("set elements cannot be floats");
      return;
    case 7:
      if (!Array.isArray(v) || v.length !== 2) fail(`the value must be a [key, value] pair, not ${formatValue(v)}`);
      if (kind((v as unknown[])[0]) === "float") fail("map keys cannot be floats");
      return;
    case 8:
      if (!Array.isArray(v) || v.length !== 2) fail(`the value must be a [score, id] pair, not ${formatValue(v)}`);
      if (!Number.isInteger(n) || n < 1 || n > maxTopN) fail(`n is ${n}; it must be from 1 to ${maxTopN}`);
      return;
  }
  throw new AggregateError(agg, "unknown aggregator; use 1 (COUNT) to 8 (TOP_N)");
}

/** a + b for COUNT and SUM: nil counts as 0, int + int stays an int and must not overflow, a float makes a float. */
function add(agg: number, a: unknown, b: unknown): unknown {
  if (isNil(a)) a = 0;
  if (kind(a) === "int" && kind(b) === "int") {
    const s = intOf(a) + intOf(b);
    if (s < minInt || s > maxInt) throw new AggregateError(agg, `the sum ${intOf(a)} + ${intOf(b)} overflows int64`);
    return mkInt(s);
  }
  const num = (x: unknown): number | undefined => (kind(x) === "int" ? Number(intOf(x)) : kind(x) === "float" ? floatOf(x) : undefined);
  const af = num(a);
  const bf = num(b);
  if (af === undefined || bf === undefined) throw new AggregateError(agg, `the current value is ${kind(a)} ${formatValue(a)}; it needs a number`);
  const s = af + bf;
  if (Number.isNaN(s) && !Number.isNaN(af) && !Number.isNaN(bf)) throw new AggregateError(agg, "the sum is NaN");
  return mkFloat(s);
}

/** Combines v into the accumulator cur (nil when absent) with the aggregator; n is TOP_N's bound. */
export function aggregate(agg: number, cur: unknown, v: unknown, n: number): unknown {
  checkAggregateValue(agg, v, n);
  const wrongCur = (want: string): never => {
    throw new AggregateError(agg, `the current value is ${kind(cur)} ${formatValue(cur)}; ${names[agg]} needs ${want}`);
  };
  switch (agg) {
    case 1:
      return add(agg, cur, 1);
    case 2:
      return add(agg, cur, v);
    case 3:
    case 4: {
      if (isNil(cur)) return v;
      const c = compare(v, cur);
      return (agg === 3 && c < 0) || (agg === 4 && c > 0) ? v : cur;
    }
    case 5:
      if (isNil(cur)) return mkSet([v]);
      if (kind(cur) === "set") return mkSet([...items(cur), v]);
      return wrongCur("a set");
    case 6:
      if (isNil(cur)) return [v];
      if (kind(cur) === "list") return [...items(cur), v];
      return wrongCur("a list");
    case 7: {
      const [k, x] = v as [unknown, unknown];
      if (isNil(cur)) return mkMap([[k, x]]);
      if (kind(cur) === "map") return withKey(cur, k, x);
      return wrongCur("a map");
    }
    case 8: {
      let pairs: unknown[][] = [];
      if (!isNil(cur)) {
        if (kind(cur) !== "list") wrongCur("a list of [score, id] pairs");
        pairs = items(cur).map((p) => (Array.isArray(p) && p.length === 2 ? [...p] : wrongCur("a list of [score, id] pairs")));
      }
      const [score, id] = v as [unknown, unknown];
      let found = false;
      pairs = pairs.map((p) => {
        if (!equal(p[1], id)) return p;
        found = true;
        return compare(score, p[0]) > 0 ? [score, id] : p;
      });
      if (!found) pairs.push([score, id]);
      // A stable sort: score descending, then id ascending.
      pairs.sort((a, b) => compare(b[0], a[0]) || compare(a[1], b[1]));
      return pairs.slice(0, n);
    }
  }
  throw new AggregateError(agg, "unknown aggregator");
}

/** Combines v into acc at the key path (the group-by of §15.3): each key navigates into a map, created when absent. */
export function aggregateAt(acc: unknown, keys: unknown[], agg: number, v: unknown, n: number): unknown {
  if (keys.length === 0) return aggregate(agg, acc, v, n);
  const k = keys[0];
  if (kind(k) === "float") throw new AggregateError(agg, "a key of the key path is a float; keys cannot be floats");
  let child: unknown = null;
  if (kind(acc) === "map") {
    const id = keyId(k);
    for (const [kk, vv] of entries(acc)) if (keyId(kk) === id) child = vv;
  } else if (!isNil(acc)) {
    throw new AggregateError(agg, `the key path navigates into ${kind(acc)} ${formatValue(acc)}; only maps have keys`);
  }
  const nv = aggregateAt(child, keys.slice(1), agg, v, n);
  return isNil(acc) ? mkMap([[k, nv]]) : withKey(acc, k, nv);
}

function withKey(m: unknown, k: unknown, v: unknown): unknown {
  const id = keyId(k);
  const es = entries(m).filter(([kk]) => keyId(kk) !== id);
  es.push([k, v]);
  return mkMap(es);
}
