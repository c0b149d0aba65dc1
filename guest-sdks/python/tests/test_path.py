"""Path and schema builders: the ABI form of every navigator and terminal
(the same forms and texts as the Go SDK's TestPathForms), and errors."""

import pytest

import squall
from squall import key, path
from squall._text import value_text
from squall.testing import _engine as E

FORMS = [
    (key("a"), '[[1, "a"]]', 'key("a")'),
    (path().must_key(1), "[[2, 1]]", "mustKey(1)"),
    (path().map_vals().map_keys(), "[[3], [12]]", "mapVals().mapKeys()"),
    (path().all().first().last(), "[[4], [5], [6]]", "all().first().last()"),
    (path().nth(-1), "[[7, -1]]", "nth(-1)"),
    (path().sorted_range(1, None), "[[8, 1, nil]]", "sortedRange(1, open)"),
    (path().sorted_range(None, "z", exclude_from=True, include_to=True, limit=3, reverse=True),
     '[[8, nil, "z", {"limit": 3, "reverse": true, "includeTo": true, "excludeFrom": true}]]',
     'sortedRange(open, "z", excludeFrom, includeTo, limit=3, reverse)'),
    (path().filter("ge", 3).filter_exists(), '[[9, "ge", 3], [9, "exists"]]', "filter(ge, 3).filter(exists)"),
    (path().nil_to_val([]), "[[10, []]]", "nilToVal([])"),
    (path().view("size"), '[[11, "size"]]', "view(size)"),
    (path().set(None), "[[32, nil]]", "set(nil)"),
    (path().incr(-2), "[[33, -2]]", "incr(-2)"),
    (path().incr(0.5), "[[33, 0.5]]", "incr(0.5)"),
    (path().append(1, "x"), '[[34, 1, "x"]]', 'append(1, "x")'),
    (path().prepend(), "[[35]]", "prepend()"),
    (path().remove(), "[[36]]", "remove()"),
    (path().merge({"a": 1}), '[[37, {"a": 1}]]', 'merge({"a": 1})'),
]


@pytest.mark.parametrize("p, form, text", FORMS, ids=[f[2] for f in FORMS])
def test_forms(p, form, text):
    assert E.text(E.internal(p.value())) == form
    assert str(p) == text
    back = squall.parse_path(p.value())
    assert str(back) == text and back.encoded() == p.encoded() == squall.packb(p.value())


def test_prefixes_are_shared_not_changed():
    base = key("a")
    x, y = base.key("x"), base.key("y")
    assert (str(base), str(x), str(y)) == ('key("a")', 'key("a").key("x")', 'key("a").key("y")')
    assert x != y and x == key("a").key("x") and hash(x) == hash(key("a").key("x"))


@pytest.mark.parametrize(
    "p, mode, want",
    [
        (key(object()), squall.SELECT, "path step 0 (key): encode: at $: a object is not a Squall value"),
        (path().key(1).set({1, object()}), squall.TRANSFORM, "path step 1 (set)"),
        (path().sorted_range(1, 2, limit=-1), squall.SELECT, "limit must be 0 (no limit) or positive"),
        (path().filter("like", 1), squall.SELECT, "unknown filter comparison 'like'"),
        (path().merge(1), squall.TRANSFORM, "merge needs a map, not int"),
        (path().view("len"), squall.SELECT, "unknown view function 'len'"),
        (path().nth("1"), squall.SELECT, "nth needs an int index, not str"),
        (path().incr("1"), squall.TRANSFORM, "incr needs an int or float amount, not string"),
        (key(1).set(1), squall.SELECT, "step 1 (set(1)): a select path cannot end with a terminal"),
        (key(1), squall.TRANSFORM, "path: a transform path must end with a terminal"),
        (path().set(1).remove(), squall.TRANSFORM, "step 0 (set(1)): a terminal must be the last step of a path; 1 step(s) follow it"),
        (path().view("count").set(1), squall.TRANSFORM, "view is read-only"),
        (key("\ud800").set(1), squall.TRANSFORM, "lone surrogate"),
    ],
)
def test_errors(p, mode, want):
    with pytest.raises(squall.PathError) as e:
        p.validate(mode)
        p.encoded()
    assert want in str(e.value)


@pytest.mark.parametrize(
    "v, want",
    [
        (1, "path: a path is a list of steps, not int"),
        ([[]], "path step 0: a step is a non-empty list"),
        ([["key"]], "the opcode must be an int"),
        ([[99]], "unknown opcode 99"),
        ([[1]], "key takes 1 argument(s), got 0"),
        ([[7, "x"]], "nth needs an int index"),
        ([[8, None, None, {"limt": 1}]], 'unknown sortedRange option "limt"'),
        ([[9, "gt"]], "filter gt takes an operand"),
        ([[9, "exists", 1]], "filter exists takes no operand"),
        ([[11, "len"]], 'unknown view function "len"'),
        ([[33, "1"]], "incr needs an int or float amount"),
    ],
)
def test_parse_errors(v, want):
    with pytest.raises(squall.PathError) as e:
        squall.parse_path(v)
    assert want in str(e.value)


def test_schema_forms():
    s = squall.map_of(squall.STRING, squall.record_of(n=squall.INT, tags=squall.set_of(squall.STRING).subindexed()))
    assert str(s) == "map(string, record{n: int, tags: set(string).subindexed})"
    assert value_text(s.value()) == ('{"key": "string", "val": {"type": "record", "fields": [["n", "int"], '
                                     '["tags", {"elem": "string", "type": "set", "subindexed": true}]]}, "type": "map"}')
    assert squall.record_of(("a", squall.INT), b=squall.BOOL).value()["fields"] == [["a", "int"], ["b", "bool"]]
    with pytest.raises(TypeError, match="must be a Schema"):
        squall.map_of("string", squall.INT)
