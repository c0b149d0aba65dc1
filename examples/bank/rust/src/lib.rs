//! The bank example: a Squall module that moves money between accounts
//! exactly once (the twin of `examples/bank/go`).
//!
//! Clients append deposits `{"account", "amount"}` to the depot "deposits"
//! and transfers `{"id", "from", "to", "amount"}` to the depot "transfers"
//! (partitioned by "from"). The microbatch topology "bank" processes them
//! in microbatches across every partition: "deposit" credits an account;
//! "debit" checks the funds of "from" on its partition and debits it, or
//! records the refusal; then it hops to the partition of "to", where
//! "credit" credits it. Each account keeps its balance and its transfer
//! history (a subindexed map: entry number → transfer). Because the
//! topology is a microbatch topology, a debit and its credit, on two
//! partitions, become visible together, and a transfer is applied exactly
//! once whatever crashes and retries happen. Stage "tally" aggregates
//! statistics per outcome (a group-by: count, total amount and the three
//! largest transfers).
//!
//! Query topologies: `account(id, limit)` returns an account's balance and
//! its last `limit` transfers, newest first; `total()` sums every balance
//! on every partition; `stats()` gathers the per-outcome statistics.
//!
//! Build it to WebAssembly with
//! `RUSTC=/usr/bin/rustc /usr/bin/cargo build --release --target wasm32-wasi`.

use squall::{
    key, list, map, poison, Agg, ConvertError, Ctx, FromValue, Module, PState, Partitioner, Path, RangeOpts, Schema,
    Value,
};

/// A record of the depot "transfers".
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub id: String,
    pub from: String,
    pub to: String,
    pub amount: i64,
}

impl From<Transfer> for Value {
    fn from(t: Transfer) -> Value {
        map! { "id" => t.id, "from" => t.from, "to" => t.to, "amount" => t.amount }
    }
}

impl FromValue for Transfer {
    fn from_value(v: Value) -> Result<Transfer, ConvertError> {
        Ok(Transfer { id: v.field_as("id")?, from: v.field_as("from")?, to: v.field_as("to")?, amount: v.field_as("amount")? })
    }
}

/// A record of the depot "deposits".
#[derive(Clone, Debug, PartialEq)]
pub struct Deposit {
    pub account: String,
    pub amount: i64,
}

impl From<Deposit> for Value {
    fn from(d: Deposit) -> Value {
        map! { "account" => d.account, "amount" => d.amount }
    }
}

impl FromValue for Deposit {
    fn from_value(v: Value) -> Result<Deposit, ConvertError> {
        Ok(Deposit { account: v.field_as("account")?, amount: v.field_as("amount")? })
    }
}

/// The outcomes of a transfer: the "kind" of history entries and the keys
/// of the PState "stats".
pub const DEBITED: &str = "debit";
/// A transfer credited to its receiver.
pub const CREDITED: &str = "credit";
/// A transfer refused for lack of funds.
pub const REFUSED: &str = "refused";

/// One line of an account's history.
fn entry(kind: &str, t: &Transfer, peer: &str) -> Value {
    map! { "kind" => kind, "id" => t.id.as_str(), "peer" => peer, "amount" => t.amount }
}

/// Appends an entry to an account's history, numbered from 1.
fn record(ctx: &mut Ctx, accounts: &PState, account: &str, e: Value) -> squall::Result {
    let n: i64 = ctx.select_one_as(accounts, key(account).key("count"))?.unwrap_or(0);
    ctx.transform(accounts, key(account).key("history").key(n + 1).set(e))?;
    ctx.aggregate(accounts, list![account, "count"], Agg::Count)
}

/// Declares the module.
pub fn define(m: &mut Module) {
    m.name("bank");
    let deposits = m.depot_of::<Deposit>("deposits", Partitioner::HashBy(key("account")));
    let transfers = m.depot_of::<Transfer>("transfers", Partitioner::HashBy(key("from")));
    let accounts = m.pstate(
        "accounts",
        Schema::map_of(
            Schema::String,
            Schema::record_of([
                ("balance", Schema::Int),
                ("count", Schema::Int), // entries in history
                ("history", Schema::map_of(Schema::Int, Schema::Any).subindexed()),
            ]),
        ),
    );
    let stats = m.pstate("stats", Schema::map_of(Schema::String, Schema::Any));

    let mut bank = m.microbatch("bank");
    bank.owns(&accounts).owns(&stats).max_records(1000);
    let deposit = bank.stage("deposit", move |ctx: &mut Ctx, d: Deposit| {
        if d.amount <= 0 {
            return Err(poison!("a deposit must be positive"));
        }
        ctx.aggregate(&accounts, list![d.account, "balance"], Agg::sum(d.amount))
    });
    let debit = bank.declare_stage::<Transfer>("debit");
    let credit = bank.declare_stage::<Transfer>("credit");
    let tally = bank.declare_stage::<(String, Transfer)>("tally");
    bank.implement(&debit, move |ctx: &mut Ctx, t: Transfer| {
        if t.amount <= 0 || t.from == t.to || t.id.is_empty() {
            return Err(poison!("a transfer needs an id, two different accounts and a positive amount"));
        }
        let balance: i64 = ctx.select_one_as(&accounts, key(t.from.as_str()).key("balance"))?.unwrap_or(0);
        if balance < t.amount {
            record(ctx, &accounts, &t.from, entry(REFUSED, &t, &t.to))?;
            return ctx.hop(&tally, REFUSED, (REFUSED.to_string(), t));
        }
        ctx.aggregate(&accounts, list![t.from.as_str(), "balance"], Agg::sum(-t.amount))?;
        record(ctx, &accounts, &t.from, entry(DEBITED, &t, &t.to))?;
        ctx.hop(&credit, t.to.clone(), t)
    });
    bank.implement(&credit, move |ctx: &mut Ctx, t: Transfer| {
        ctx.aggregate(&accounts, list![t.to.as_str(), "balance"], Agg::sum(t.amount))?;
        record(ctx, &accounts, &t.to, entry(CREDITED, &t, &t.from))?;
        ctx.hop(&tally, CREDITED, (CREDITED.to_string(), t))
    });
    // tally runs on the partition that owns the outcome (the hop's key): a
    // group-by outcome.
    bank.implement(&tally, move |ctx: &mut Ctx, (outcome, t): (String, Transfer)| {
        ctx.aggregate(&stats, list![outcome.as_str(), "count"], Agg::Count)?;
        ctx.aggregate(&stats, list![outcome.as_str(), "amount"], Agg::sum(t.amount))?;
        ctx.aggregate(&stats, list![outcome.as_str(), "largest"], Agg::top_n(3, t.amount, t.id))
    });
    bank.source(&deposits, &deposit);
    bank.source(&transfers, &debit);

    let mut account = m.query("account", &["id", "limit"]);
    let start = account.declare_stage::<Value>("start");
    let read = account.stage("read", move |ctx: &mut Ctx, args: Value| {
        let id = args.index(0).clone();
        let limit = args.index(1).as_int().unwrap_or(-1);
        if !(0..=1000).contains(&limit) {
            return Err(poison!("limit must be from 0 to 1000"));
        }
        let balance = ctx.select_one(&accounts, key(id.clone()).key("balance"))?.unwrap_or_default();
        let mut last = vec![];
        if limit > 0 {
            let opts = RangeOpts::new().reverse().limit(limit as u32);
            last = ctx.select(&accounts, key(id).key("history").sorted_range_with((), (), opts).map_vals())?;
        }
        ctx.set_result(map! { "balance" => balance, "transfers" => last })
    });
    account.implement(&start, move |ctx: &mut Ctx, args: Value| ctx.hop(&read, args.index(0).clone(), args));

    let mut total = m.query("total", &[]);
    let fanout = total.declare_stage::<Value>("fanout");
    let sum = total.stage("sum", move |ctx: &mut Ctx, _: Value| {
        let balances: Vec<i64> = ctx.select_as(&accounts, Path::new().map_vals().key("balance"))?;
        ctx.aggregate_result(list![], Agg::sum(balances.iter().sum::<i64>()))
    });
    total.implement(&fanout, move |ctx: &mut Ctx, _: Value| ctx.hop_all(&sum, ()));

    let mut stats_q = m.query("stats", &[]);
    let fanout = stats_q.declare_stage::<Value>("fanout");
    let gather = stats_q.stage("gather", move |ctx: &mut Ctx, _: Value| {
        // The outcomes this partition owns.
        for o in ctx.select(&stats, Path::new().map_keys())? {
            let v = ctx.select_one(&stats, key(o.clone()))?.unwrap_or_default();
            ctx.aggregate_result(list![], Agg::map(o, v))?;
        }
        Ok(())
    });
    stats_q.implement(&fanout, move |ctx: &mut Ctx, _: Value| ctx.hop_all(&gather, ()));
}

squall::module!(define, abi = "1.1");

#[cfg(test)]
mod tests;
