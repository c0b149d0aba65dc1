"""Emits a set's iteration order and a string hash (TestPythonDeterministic):
every instance must give the same, whatever its seed."""

import squall

app = squall.Module("hashseed")
d = app.depot("d", squall.random_partition())
s = app.stream("s")


@s.stage()
def run(ctx: squall.Ctx, x: str) -> None:
    ctx.emit(",".join({"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}) + " " + str(hash(x)))


s.source(d, run)
