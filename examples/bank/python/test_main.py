"""Tests of the bank module, run natively with squall.testing, whose
in-memory host runs microbatches all or nothing as the engine does (the
durable commit and its crash safety are tested in internal/e2e)."""

import random

import pytest

import squall
from squall.testing import Harness

import main


def balance(h: Harness, account: str) -> int:
    return h.invoke("account", account, 0)["balance"]


def transfer(ident: str, frm: str, to: str, amount: int) -> dict:
    return {"id": ident, "from": frm, "to": to, "amount": amount}


def test_transfers_and_queries():
    h = Harness(main, partitions=4)
    h.append("deposits", {"account": "ann", "amount": 100})
    h.append("deposits", {"account": "bob", "amount": 50})
    h.append("transfers", transfer("t1", "ann", "bob", 30))
    h.append("transfers", transfer("t2", "bob", "ann", 500))  # refused: bob has 80
    h.append("transfers", transfer("t3", "bob", "cat", 80))

    assert {a: balance(h, a) for a in ("ann", "bob", "cat")} == {"ann": 70, "bob": 0, "cat": 80}
    assert h.invoke("total") == 150

    hist = h.invoke("account", "bob", 2)["transfers"]
    # Newest first: t3 debited, then t2 refused.
    assert [(e["kind"], e["id"]) for e in hist] == [(main.DEBITED, "t3"), (main.REFUSED, "t2")]

    stats = h.invoke("stats")
    assert stats[main.CREDITED]["count"] == 2
    assert stats[main.CREDITED]["largest"] == [[80, "t3"], [30, "t1"]]
    assert stats[main.REFUSED]["amount"] == 500
    # Every append above ran in one microbatch of its own.
    assert h.microbatches("bank") == 5


def test_bad_input():
    h = Harness(main, partitions=2, quiet=True)
    h.append("transfers", transfer("x", "ann", "ann", 5))
    h.append("deposits", {"account": "ann", "amount": -5})
    dls = h.dead_letters
    assert len(dls) == 2, dls
    assert "two different accounts" in dls[0].error.message and dls[0].kind == "record"
    assert "positive" in dls[1].error.message
    with pytest.raises(squall.InvokeError, match=r"takes 2 arguments \(id, limit\); got 1"):
        h.invoke("account", "ann")
    with pytest.raises(squall.InvokeError, match="limit must be from 0 to 1000"):
        h.invoke("account", "ann", 5000)
    assert h.paused("bank") is None


def test_random_transfers_conserve_money():
    """Random transfers keep the total and record every transfer once in
    the history of its sender (debit or refused) and once in its receiver's
    when applied."""
    h = Harness(main, partitions=8, batch_size=32, manual=True)
    accounts = [f"a{i:02d}" for i in range(12)]
    for a in accounts:
        h.append("deposits", {"account": a, "amount": 100})
    h.run()
    rng = random.Random(7)
    for i in range(300):
        frm, to = rng.sample(accounts, 2)
        h.append("transfers", transfer(f"t{i}", frm, to, rng.randint(1, 60)))
        if i % 50 == 49:
            h.run()  # several transfers per microbatch
    h.run()
    assert h.invoke("total") == 1200
    seen: dict = {}
    for a in accounts:
        for e in h.invoke("account", a, 1000)["transfers"]:
            seen[(e["kind"], e["id"])] = seen.get((e["kind"], e["id"]), 0) + 1
    for i in range(300):
        t = f"t{i}"
        d, r, c = seen.get((main.DEBITED, t), 0), seen.get((main.REFUSED, t), 0), seen.get((main.CREDITED, t), 0)
        assert d + r == 1 and c == d, (t, d, r, c)


def test_a_failing_microbatch_applies_nothing_and_pauses(monkeypatch):
    """A stage that keeps failing undoes its whole microbatch (the debit on
    one partition with it), which runs again up to the maximum attempts;
    then the topology pauses with nothing applied."""
    h = Harness(main, partitions=4, max_attempts=3, quiet=True)
    h.append("deposits", {"account": "ann", "amount": 100})

    def broken(ctx, rec):
        raise RuntimeError("the credit side is down")

    monkeypatch.setattr(main.credit, "fn", broken)
    h.append("transfers", transfer("t1", "ann", "bob", 30))
    assert "failed 3 times" in (h.paused("bank") or "")
    assert balance(h, "ann") == 100 and balance(h, "bob") is None
    assert h.invoke("account", "ann", 10)["transfers"] == []
    assert h.microbatches("bank") == 1
    assert h.dead_letters == []
