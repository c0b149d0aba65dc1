"""A module that reads files of its own tree: a data file next to it and
the meta.json the build wrote, and emits them."""

import json
import pathlib

import squall

from . import helper

app = squall.Module("files")
inputs = app.depot("inputs", squall.random_partition())
files = app.stream("files")


@files.stage()
def read(ctx: squall.Ctx, what: str) -> None:
    if what == "data":
        ctx.emit(pathlib.Path(__file__).with_name("data.txt").read_text())
    elif what == "meta":
        with open("/squall/meta.json") as f:
            ctx.emit(json.load(f))
    elif what == "fail":
        helper.fail(what)
    else:
        ctx.emit(helper.double(what))


files.source(inputs, read)
