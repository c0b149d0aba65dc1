// The bank example: a Squall module that moves money between accounts
// exactly once (the twin of examples/bank/go and examples/bank/rust).
//
// Clients append deposits {account, amount} to the depot "deposits" and
// transfers {id, from, to, amount} to the depot "transfers" (partitioned
// by "from"). The microbatch topology "bank" processes them in
// microbatches across every partition: "deposit" credits an account;
// "debit" checks the funds of "from" on its partition and debits it, or
// records the refusal; then it hops to the partition of "to", where
// "credit" credits it. Each account keeps its balance and its transfer
// history (a subindexed map: entry number → transfer). Because the
// topology is a microbatch topology, a debit and its credit, on two
// partitions, become visible together, and a transfer is applied exactly
// once whatever crashes and retries happen. Stage "tally" aggregates
// statistics per outcome (a group-by: count, total amount and the three
// largest transfers).
//
// Query topologies: account(id, limit) returns an account's balance and
// its last `limit` transfers, newest first; total() sums every balance on
// every partition; stats() gathers the per-outcome statistics.

import { agg, defineModule, hashBy, key, path, PoisonError, recordParser, schema, type Ctx, type PState, type RecordOf } from "@squall/sdk";

const parseTransfer = recordParser({ id: "string", from: "string", to: "string", amount: "int" });
const parseDeposit = recordParser({ account: "string", amount: "int" });

/** A record of the depot "transfers". */
export type Transfer = RecordOf<{ id: "string"; from: "string"; to: "string"; amount: "int" }>;
/** A record of the depot "deposits". */
export type Deposit = RecordOf<{ account: "string"; amount: "int" }>;

/** The outcomes of a transfer: the "kind" of history entries and the keys of the PState "stats". */
export const DEBITED = "debit";
/** A transfer credited to its receiver. */
export const CREDITED = "credit";
/** A transfer refused for lack of funds. */
export const REFUSED = "refused";

type Outcome = typeof DEBITED | typeof CREDITED | typeof REFUSED;

/** One line of an account's history. */
export interface Entry {
  kind: Outcome;
  id: string;
  peer: string;
  amount: number;
}

/** An account in the PState "accounts". */
export interface Account {
  balance: number;
  count: number; // entries in history
  history: Map<number, Entry>;
}

function entry(kind: Outcome, t: Transfer, peer: string): Entry {
  return { kind, id: t.id, peer, amount: t.amount };
}

/** Appends an entry to an account's history, numbered from 1. */
function record(ctx: Ctx, accounts: PState<string, Account>, account: string, e: Entry): void {
  const n = ctx.selectOne<number>(accounts, key(account).key("count")) ?? 0;
  ctx.transform(accounts, key(account).key("history").key(n + 1).set(e));
  ctx.aggregate(accounts, [account, "count"], agg.count());
}

export default defineModule("bank", (m) => {
  const deposits = m.depot<Deposit>("deposits", hashBy(key("account")));
  const transfers = m.depot<Transfer>("transfers", hashBy(key("from")));

  const bank = m.microbatch("bank", { maxRecords: 1000 });
  const accounts = bank.pstate<string, Account>(
    "accounts",
    schema.mapOf(
      schema.string,
      schema.record({
        balance: schema.int,
        count: schema.int, // entries in history
        history: schema.mapOf(schema.int, schema.any).subindexed(),
      }),
    ),
  );
  const stats = bank.pstate<string, unknown>("stats", schema.mapOf(schema.string, schema.any));

  const deposit = bank.stage("deposit", parseDeposit, (ctx, d) => {
    if (d.amount <= 0) throw new PoisonError("a deposit must be positive");
    ctx.aggregate(accounts, [d.account, "balance"], agg.sum(d.amount));
  });
  const debit = bank.stage("debit", parseTransfer, (ctx, t) => {
    if (t.amount <= 0 || t.from === t.to || t.id === "") {
      throw new PoisonError("a transfer needs an id, two different accounts and a positive amount");
    }
    const balance = ctx.selectOne<number>(accounts, key(t.from).key("balance")) ?? 0;
    if (balance < t.amount) {
      record(ctx, accounts, t.from, entry(REFUSED, t, t.to));
      ctx.hop(tally, REFUSED, [REFUSED, t]);
      return;
    }
    ctx.aggregate(accounts, [t.from, "balance"], agg.sum(-t.amount));
    record(ctx, accounts, t.from, entry(DEBITED, t, t.to));
    ctx.hop(credit, t.to, t);
  });
  const credit = bank.stage("credit", parseTransfer, (ctx, t) => {
    ctx.aggregate(accounts, [t.to, "balance"], agg.sum(t.amount));
    record(ctx, accounts, t.to, entry(CREDITED, t, t.from));
    ctx.hop(tally, CREDITED, [CREDITED, t]);
  });
  // tally runs on the partition that owns the outcome (the hop's key): a
  // group-by outcome.
  const tally = bank.stage<[Outcome, Transfer]>("tally", (ctx, [outcome, t]) => {
    const tr = parseTransfer(t);
    ctx.aggregate(stats, [outcome, "count"], agg.count());
    ctx.aggregate(stats, [outcome, "amount"], agg.sum(tr.amount));
    ctx.aggregate(stats, [outcome, "largest"], agg.topN(3, tr.amount, tr.id));
  });
  bank.source(deposits, deposit);
  bank.source(transfers, debit);

  const account = m.query<[string, number]>("account", ["id", "limit"]);
  account.stage<[string, number]>("start", (ctx, args) => ctx.hop(read, args[0], args));
  const read = account.stage<[string, number]>("read", (ctx, [id, limit]) => {
    if (!Number.isInteger(limit) || limit < 0 || limit > 1000) throw new PoisonError("limit must be from 0 to 1000");
    const balance = ctx.selectOne(accounts, key(id).key("balance")) ?? null;
    let last: unknown[] = [];
    if (limit > 0) last = ctx.select(accounts, key(id).key("history").sortedRange(null, null, { reverse: true, limit }).mapVals());
    ctx.setResult({ balance, transfers: last });
  });

  const total = m.query("total");
  total.stage("fanout", (ctx) => ctx.hopAll(sum, null));
  const sum = total.stage("sum", (ctx) => {
    // An account that only sent refused transfers has no balance (nil).
    const balances = ctx.select<number | null>(accounts, path().mapVals().key("balance"));
    ctx.aggregateResult([], agg.sum(balances.reduce<number>((a, b) => a + (b ?? 0), 0)));
  });

  const statsQ = m.query("stats");
  statsQ.stage("fanout", (ctx) => ctx.hopAll(gather, null));
  const gather = statsQ.stage("gather", (ctx) => {
    // The outcomes this partition owns.
    for (const o of ctx.select(stats, path().mapKeys())) {
      ctx.aggregateResult([], agg.map(o, ctx.selectOne(stats, key(o)) ?? null));
    }
  });
});
