"""bank: a Squall module that moves money between accounts exactly once.

Clients append deposits ``{"account", "amount"}`` to the depot "deposits"
and transfers ``{"id", "from", "to", "amount"}`` to the depot "transfers"
(partitioned by "from"). The microbatch topology "bank" processes them in
microbatches across every partition: "deposit" credits an account; "debit"
checks the funds of "from" on its partition and debits it, or records the
refusal; then it hops to the partition of "to", where "credit" credits it.
Each account keeps its balance and its transfer history (a subindexed map:
entry number -> transfer). Because the topology is a microbatch topology, a
debit and its credit, on two partitions, become visible together, and a
transfer is applied exactly once whatever crashes and retries happen. Stage
"tally" aggregates statistics per outcome (a group-by: count, total amount
and the three largest transfers).

Query topologies: ``account(id, limit)`` returns an account's balance and
its last ``limit`` transfers, newest first; ``total()`` sums every balance
on every partition; ``stats()`` gathers the per-outcome statistics.

Build it to WebAssembly with ``squall build .`` (this folder).
"""

from __future__ import annotations

import squall
from squall import Agg, key, path

# Outcomes of a transfer: the "kind" of history entries and the keys of the
# PState "stats".
DEBITED = "debit"
CREDITED = "credit"
REFUSED = "refused"

app = squall.Module("bank")
deposits = app.depot("deposits", squall.hash_by(key("account")))
transfers = app.depot("transfers", squall.hash_by(key("from")))

bank = app.microbatch("bank", max_records=1000)
accounts = bank.pstate("accounts", squall.map_of(squall.STRING, squall.record_of(
    balance=squall.INT,
    count=squall.INT,  # entries in history
    history=squall.map_of(squall.INT, squall.ANY, subindexed=True),
)))
stats = bank.pstate("stats", squall.map_of(squall.STRING, squall.ANY))


def transfer(t: object) -> dict:
    """A transfer record with its four fields (a map that is not a transfer
    poisons the item)."""
    if not isinstance(t, dict):
        raise squall.InputError(f'a transfer is {{"id", "from", "to", "amount"}}, not {t!r}')
    ident, frm, to, amount = t.get("id") or "", t.get("from") or "", t.get("to") or "", t.get("amount") or 0
    if not (type(ident) is str and type(frm) is str and type(to) is str and type(amount) is int):
        raise squall.InputError(f'a transfer is {{"id": str, "from": str, "to": str, "amount": int}}, not {t!r}')
    return {"id": ident, "from": frm, "to": to, "amount": amount}


def entry(kind: str, t: dict, peer: str) -> dict:
    """One line of an account's history."""
    return {"kind": kind, "id": t["id"], "peer": peer, "amount": t["amount"]}


def record(ctx: squall.Ctx, account: str, e: dict) -> None:
    """Append an entry to an account's history, numbered from 1."""
    n = ctx.select_one(accounts, key(account).key("count")) or 0
    ctx.transform(accounts, key(account).key("history").key(n + 1).set(e))
    ctx.aggregate(accounts, Agg.count(), account, "count")


@bank.stage(source=deposits)
def deposit(ctx: squall.Ctx, d: dict) -> None:
    account, amount = (d.get("account") or "", d.get("amount") or 0) if isinstance(d, dict) else (None, None)
    if type(account) is not str or type(amount) is not int:
        raise squall.InputError(f'a deposit is {{"account": str, "amount": int}}, not {d!r}')
    if amount <= 0:
        raise squall.Poison("a deposit must be positive")
    ctx.aggregate(accounts, Agg.sum(amount), account, "balance")


@bank.stage(source=transfers)
def debit(ctx: squall.Ctx, rec: dict) -> None:
    t = transfer(rec)
    if t["amount"] <= 0 or t["from"] == t["to"] or t["id"] == "":
        raise squall.Poison("a transfer needs an id, two different accounts and a positive amount")
    balance = ctx.select_one(accounts, key(t["from"]).key("balance")) or 0
    if balance < t["amount"]:
        record(ctx, t["from"], entry(REFUSED, t, t["to"]))
        ctx.hop(tally, REFUSED, [REFUSED, t])
        return
    ctx.aggregate(accounts, Agg.sum(-t["amount"]), t["from"], "balance")
    record(ctx, t["from"], entry(DEBITED, t, t["to"]))
    ctx.hop(credit, t["to"], t)


@bank.stage()
def credit(ctx: squall.Ctx, rec: dict) -> None:
    t = transfer(rec)
    ctx.aggregate(accounts, Agg.sum(t["amount"]), t["to"], "balance")
    record(ctx, t["to"], entry(CREDITED, t, t["from"]))
    ctx.hop(tally, CREDITED, [CREDITED, t])


@bank.stage()
def tally(ctx: squall.Ctx, outcome_and_transfer: list) -> None:
    """Runs on the partition that owns the outcome (the hop's key): a
    group-by outcome."""
    outcome, t = outcome_and_transfer[0], transfer(outcome_and_transfer[1])
    ctx.aggregate(stats, Agg.count(), outcome, "count")
    ctx.aggregate(stats, Agg.sum(t["amount"]), outcome, "amount")
    ctx.aggregate(stats, Agg.top_n(3, t["amount"], t["id"]), outcome, "largest")


account = app.query("account", "id", "limit")


@account.stage()
def start(ctx: squall.Ctx, args: list) -> None:
    ctx.hop(read, args[0], args)


@account.stage()
def read(ctx: squall.Ctx, args: list) -> None:
    ident, limit = args[0], args[1]
    if type(limit) is not int:
        limit = 0
    if limit < 0 or limit > 1000:
        raise squall.Poison("limit must be from 0 to 1000")
    balance = ctx.select_one(accounts, key(ident).key("balance"))
    last = []
    if limit > 0:
        last = ctx.select(accounts, key(ident).key("history").sorted_range(reverse=True, limit=limit).map_vals())
    ctx.set_result({"balance": balance, "transfers": last})


total = app.query("total")


@total.stage("fanout")
def total_fanout(ctx: squall.Ctx, _: list) -> None:
    ctx.hop_all(sum_balances, None)


@total.stage("sum")
def sum_balances(ctx: squall.Ctx, _: None) -> None:
    s = 0
    for b in ctx.select(accounts, path().map_vals().key("balance")):
        s += b or 0
    ctx.aggregate_result(Agg.sum(s))


stats_query = app.query("stats")


@stats_query.stage("fanout")
def stats_fanout(ctx: squall.Ctx, _: list) -> None:
    ctx.hop_all(gather, None)


@stats_query.stage()
def gather(ctx: squall.Ctx, _: None) -> None:
    # The outcomes this partition owns.
    for o in ctx.select(stats, path().map_keys()):
        ctx.aggregate_result(Agg.put_in_map(o, ctx.select_one(stats, key(o))))
