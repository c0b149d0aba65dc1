"""Reads and writes through the runtime's _squall module for
TestPythonHostCalls: query answers larger than the shim's 64 KiB buffer
(fetched with take) and effects the host rejects (the rejection list,
fetched with take)."""

import squall

app = squall.Module("query")
d = app.depot("d", squall.random_partition())
ps = app.pstate("$$p", squall.map_of(squall.STRING, squall.ANY))
s = app.stream("s")


@s.stage()
def run(ctx: squall.Ctx, k: str) -> None:
    if k == "write":
        ctx.transform(ps, squall.key("x").set(1))
        ctx.emit("written")
    else:
        ctx.emit(len(ctx.select_one(ps, squall.key(k))))


s.source(d, run)
