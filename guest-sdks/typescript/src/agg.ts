// Aggregators (ABI 1.1, abi/ABI.md §15.3): what ctx.aggregate and
// ctx.aggregateResult combine into an accumulator. The host implements
// them; an Agg only names one and carries its value.

import * as F from "./frames.js";
import { PoisonError } from "./errors.js";

/** An aggregator and the value it combines; make one with the `agg` functions. */
export interface Agg {
  /** The aggregator code (§15.3). */
  readonly code: number;
  /** The value combined (for MAP a [key, value] pair, for TOP_N a [score, id] pair). */
  readonly value: unknown;
  /** TOP_N only: how many pairs are kept. */
  readonly n?: number;
}

/** The largest TOP_N n the host accepts. */
export const maxTopN = 10_000;

/**
 * The aggregators. With `cur` the accumulator (absent counts as empty):
 *
 * | function | result |
 * |---|---|
 * | `agg.count()` | cur + 1 |
 * | `agg.sum(x)` | cur + x (int + int stays an int, and must not overflow) |
 * | `agg.min(x)`, `agg.max(x)` | the smaller / larger in the order of values |
 * | `agg.set(x)` | the set cur with x added (x not a float) |
 * | `agg.list(x)` | the list cur with x appended |
 * | `agg.map(k, x)` | the map cur with k set to x |
 * | `agg.topN(n, score, id)` | the n best [score, id] pairs, highest score first (an id keeps its best score) |
 */
export const agg = {
  count(): Agg {
    return { code: F.AggCount, value: null };
  },
  sum(x: number | bigint | unknown): Agg {
    return { code: F.AggSum, value: x };
  },
  min(x: unknown): Agg {
    return { code: F.AggMin, value: x };
  },
  max(x: unknown): Agg {
    return { code: F.AggMax, value: x };
  },
  set(x: unknown): Agg {
    return { code: F.AggSet, value: x };
  },
  list(x: unknown): Agg {
    return { code: F.AggList, value: x };
  },
  map(k: unknown, x: unknown): Agg {
    return { code: F.AggMap, value: [k, x] };
  },
  topN(n: number, score: unknown, id: unknown): Agg {
    if (!Number.isSafeInteger(n) || n < 1 || n > maxTopN) {
      throw new PoisonError(`squall: agg.topN: n is ${String(n)}; it must be an integer from 1 to ${maxTopN}`);
    }
    return { code: F.AggTopN, value: [score, id], n };
  },
} as const;

/** Checks that a is an Agg made by the `agg` functions. */
export function checkAgg(a: unknown, what: string): Agg {
  const x = a as Agg | undefined;
  if (x === null || typeof x !== "object" || !Number.isInteger(x.code) || x.code < F.AggCount || x.code > F.AggTopN) {
    throw new PoisonError(`squall: ${what}: the aggregator must be made by agg.count(), agg.sum(x), ... not ${String(a)}`);
  }
  return x;
}
