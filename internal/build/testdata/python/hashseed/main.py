"""Emits a set's iteration order, a string hash and a random number
(TestPythonDeterministic): every instance must give the same for a batch,
whatever its own seed and the batches it ran before."""

import random

import squall

app = squall.Module("hashseed")
d = app.depot("d", squall.random_partition())
s = app.stream("s")


@s.stage()
def run(ctx: squall.Ctx, x: str) -> None:
    ctx.emit(",".join({"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}) + " " + str(hash(x))
             + " " + str(random.random()))


s.source(d, run)
