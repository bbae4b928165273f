"""The exception hierarchy of dtmx: every error is a :class:`DtmxError`.

Each class carries the stable ``kind`` and ``code`` of the core's error table, so code can
catch by class (``except dtmx.FailureError``) or switch on ``err.kind``; never on message text.
"""

from __future__ import annotations

import builtins
from typing import Dict, Type


class DtmxError(Exception):
    """Base class of every dtmx error."""

    code: int = 9
    kind: str = "internal"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class InvalidArgumentError(DtmxError, ValueError):
    """The caller passed something invalid (a bad URL, option, payload...)."""

    code, kind = 1, "invalid_argument"


class TransportError(DtmxError, ConnectionError):
    """A request could not be sent or its reply not read."""

    code, kind = 2, "transport"


class ServerError(DtmxError):
    """The server answered with an error that is neither FAILURE nor ONGOING."""

    code, kind = 3, "server"


class FailureError(DtmxError):
    """A business refusal: roll back. Raise it in a branch handler to answer 409 FAILURE."""

    code, kind = 4, "failure"


class OngoingError(DtmxError):
    """Not finished yet: retry later. Raise it in a branch handler to answer 425 ONGOING."""

    code, kind = 5, "ongoing"


class DuplicatedError(DtmxError):
    """The operation already ran (a msg barrier that exists)."""

    code, kind = 6, "duplicated"


class TimeoutError(DtmxError, builtins.TimeoutError):  # noqa: A001 - dtmx.TimeoutError
    """A deadline passed."""

    code, kind = 7, "timeout"


class DatabaseError(DtmxError):
    """The caller's database failed while running the barrier."""

    code, kind = 8, "database"


class InternalError(DtmxError):
    """A bug or an impossible state inside dtmx, or dtmx used after ``fork()``."""

    code, kind = 9, "internal"


#: Every error class by code, as in the core's table.
BY_CODE: Dict[int, Type[DtmxError]] = {
    c.code: c
    for c in (
        InvalidArgumentError,
        TransportError,
        ServerError,
        FailureError,
        OngoingError,
        DuplicatedError,
        TimeoutError,
        DatabaseError,
        InternalError,
    )
}


def _from_native(code: int, message: str) -> DtmxError:
    """The exception the native module raises for an error of ``code``."""
    return BY_CODE.get(code, InternalError)(message)
