// The TypeScript version of the conformance module of ABI 1.1
// (docs/conformance.md, behaviours (i) to (l)): a microbatch topology with
// every aggregator, query topologies, a query invoked from a stream
// topology, and a tick depot. It must behave as its Go twin (../go), byte
// for byte.

import { agg, defineModule, formatValue, hashBy, key, path, PoisonError, schema, type Value } from "@squall/sdk";

/** A record of the depot "events". */
interface Event {
  k: string;
  g: string;
  n: number;
}

/** A field of a map value, or null (as Go's Value.Field). */
function field(v: unknown, k: string): Value {
  return v !== null && typeof v === "object" && k in v ? ((v as Record<string, Value>)[k] ?? null) : null;
}

export default defineModule("abi11", (m) => {
  const events = m.depot<Event>("events", hashBy(key("k")));
  const calls = m.depot<{ k: string; g: string }>("calls", hashBy(key("k")));
  const clock = m.tickDepot("clock", 20);

  // (i, j) microbatch: every record hops to the partition of its group
  // and is aggregated there with every aggregator but LIST, whose order
  // would depend on how the records fall into microbatches (the query
  // "all" aggregates a LIST).
  const mb = m.microbatch("mb", { maxRecords: 3 });
  const aggs = mb.pstate("$$aggs", schema.mapOf(schema.string, schema.any));
  const route = mb.stage<Event>("route", (ctx, r) => ctx.hop(apply, r.g, r));
  const apply = mb.stage<Event>("apply", (ctx, r) => {
    const aggregations: [ReturnType<typeof agg.count>, string][] = [
      [agg.count(), "count"],
      [agg.sum(r.n), "sum"],
      [agg.min(r.n), "min"],
      [agg.max(r.n), "max"],
      [agg.set(r.k), "set"],
      [agg.map(r.k, r.n), "map"],
      [agg.topN(2, r.n, r.k), "top"],
    ];
    for (const [a, name] of aggregations) ctx.aggregate(aggs, [r.g, name], a);
  });
  mb.source(events, route);

  // (k) queries: one partition, every partition with a group-by result,
  // and one invoking another.
  const group = m.query<[string]>("group", ["g"]);
  group.stage<[string]>("start", (ctx, [g]) => ctx.hop(read, g, g));
  const read = group.stage<string>("read", (ctx, g) => {
    ctx.setResult(ctx.selectOne(aggs, key(g)) ?? null);
  });

  const all = m.query("all");
  all.stage("fanout", (ctx) => ctx.hopAll(each, null));
  const each = all.stage("each", (ctx) => {
    for (const g of ctx.select(aggs, path().mapKeys())) {
      const c = ctx.selectOne(aggs, key(g).key("count")) ?? null;
      ctx.aggregateResult(["total"], agg.sum(c));
      ctx.aggregateResult(["groups"], agg.map(g, c));
      ctx.aggregateResult(["partitions"], agg.set(ctx.partition));
      // Partitions run in order, keys in order: a deterministic list.
      ctx.aggregateResult(["order"], agg.list(g));
    }
  });

  const both = m.query<[string, string]>("both", ["a", "b"]);
  both.stage<[string, string]>("call", (ctx, [a, b]) => {
    const ra = ctx.invoke(group, a);
    const rb = ctx.invoke(group, b);
    ctx.setResult([field(ra, "sum"), field(rb, "sum")]);
  });

  // (k) a stream topology invokes a query and returns its result.
  const caller = m.stream("caller");
  const called = m.pstate("$$called", schema.mapOf(schema.string, schema.any));
  const ask = caller.stage<{ k: string; g: string }>("ask", (ctx, r) => {
    const v = ctx.invoke(group, r.g);
    ctx.transform(called, key(r.k).set(field(v, "count")));
    ctx.emit(field(v, "max"));
  });
  caller.source(calls, ask);

  // (l) a tick depot: every tick is an int on partition 0, counted on
  // every partition.
  const ticker = m.stream("ticker");
  const ticks = ticker.pstate("$$ticks", schema.int);
  const tick = ticker.stage<number>("tick", (ctx, t) => {
    if (!Number.isInteger(t) || ctx.partition !== 0) {
      throw new PoisonError(`a tick is an int on partition 0, got ${formatValue(t)} on ${ctx.partition}`);
    }
    ctx.hopAll(count, null);
  });
  const count = ticker.stage("count", (ctx) => ctx.aggregate(ticks, [], agg.count()));
  ticker.source(clock, tick);
});
