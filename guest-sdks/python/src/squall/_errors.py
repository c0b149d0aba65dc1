"""Exceptions a stage raises or sees, and how they end an item."""

from __future__ import annotations

from ._frames import EBADID, EINTERNAL, EINVAL, OUTCOME_POISON, OUTCOME_RETRY, errno_name


class SquallError(Exception):
    """Base class of the SDK's exceptions."""


class Poison(SquallError):
    """Raise it from a stage when the item can never succeed (bad input, a
    bug for this record): the item goes to the topology's dead-letter log
    at once instead of being retried::

        raise squall.Poison(f"record has no user: {rec!r}")

    ``raise squall.Poison(...) from err`` keeps the cause in the stack.
    """


class Retry(SquallError):
    """Raise it from a stage when the failure is transient: the item is
    delivered again later (with ``ctx.attempt`` one higher), up to the
    host's maximum number of attempts, then dead-lettered with the last
    error. Any other exception retries too; Retry says so explicitly."""


class NotFound(SquallError, LookupError):
    """``ctx.select_one`` navigated to no value (a must_key on an absent key,
    a filter that matched nothing). A key on an absent key navigates to
    None, which is a value."""

    def __init__(self, message: str = "squall: select_one: the path navigated to no value") -> None:
        super().__init__(message)


class QueryError(SquallError):
    """A query the host answered with an error: the path does not fit the
    data (EPATH), the key belongs to another partition (EWRONGPART),
    select_one found several values (EMULTI), ... The item is poisoned
    unless the host itself failed (EINTERNAL)."""

    def __init__(self, pstate: str, path: str, code: int, message: str) -> None:
        super().__init__(f"squall: query {pstate} {path}: {errno_name(code)}: {message}")
        self.pstate = pstate
        self.path = path
        self.code = code
        self.code_name = errno_name(code)
        self.message = message


class RejectedError(SquallError):
    """The host rejected an effect of this item (an append, hop or transform
    that does not fit the module or the data): the item is poisoned, and
    every later ``ctx`` call of the item raises this."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"squall: the host rejected an effect of this item: {errno_name(code)}: {message}")
        self.code = code
        self.code_name = errno_name(code)
        self.message = message


class InvokeError(SquallError):
    """A query invoked with ``ctx.invoke`` failed: ``code`` is EINVAL
    (wrong arguments, nesting too deep), EBADID, ETIMEDOUT (it ran past its
    deadline) or EFAILED (a stage of it failed; the message says where and
    why). Wrong arguments poison the item; anything else retries it."""

    def __init__(self, query: str, code: int, message: str) -> None:
        super().__init__(f"squall: invoke {query}: {errno_name(code)}: {message}")
        self.query = query
        self.code = code
        self.code_name = errno_name(code)
        self.message = message


class InputError(SquallError):
    """An item's input could not be read (it does not decode, or a typed
    stage could not convert it): the item is poisoned."""


class HostFailure(SquallError):
    """A host function failed: the whole call fails and the batch will be
    retried. Stages should let it propagate."""

    def __init__(self, code: int) -> None:
        super().__init__(f"squall: the host failed the call ({errno_name(code)}); the batch will be retried")
        self.code = code


def classify(exc: BaseException) -> tuple[int, str]:
    """The outcome (POISON or RETRY) and error kind of an item that failed
    with ``exc``."""
    if isinstance(exc, Poison):
        return OUTCOME_POISON, "poison"
    if isinstance(exc, Retry):
        return OUTCOME_RETRY, "retry"
    if isinstance(exc, QueryError):
        return (OUTCOME_RETRY if exc.code == EINTERNAL else OUTCOME_POISON), "query"
    if isinstance(exc, InvokeError):
        return (OUTCOME_POISON if exc.code in (EINVAL, EBADID) else OUTCOME_RETRY), "invoke"
    if isinstance(exc, RejectedError):
        return OUTCOME_POISON, "rejected"
    if isinstance(exc, InputError):
        return OUTCOME_POISON, "input"
    if isinstance(exc, HostFailure):
        return OUTCOME_RETRY, "host"
    if isinstance(exc, NotFound):
        return OUTCOME_RETRY, "error"
    return OUTCOME_RETRY, "error"


def message_of(exc: BaseException) -> str:
    """The message of a failed item: the exception's text; for exceptions
    other than ``Exception`` itself and the SDK's, prefixed with the class
    name like the last line of a traceback (``KeyError: 'user'``)."""
    try:
        text = str(exc)
    except Exception as e:  # a __str__ that raises
        text = f"<str() of the exception raised {type(e).__name__}>"
    t = type(exc)
    if isinstance(exc, SquallError) or t is Exception:
        return text or t.__name__
    return f"{t.__name__}: {text}" if text else t.__name__
