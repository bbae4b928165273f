"""The exception hierarchy of dtmx: every error is a :class:`DtmxError`.

Each class carries the stable ``kind`` and ``code`` of the core's error table, so code can
catch by class (``except dtmx.FailureError``) or switch on ``err.kind``; never on message text.
"""

from __future__ import annotations

import builtins
from typing import Dict, Iterable, List, Optional, Type


class DtmxError(Exception):
    """Base class of every dtmx error.

    ``notes`` are what else failed on the way without replacing this error (``abort
    failed: server: store down`` after a ``run()`` body raised it); they are also added to
    the exception's ``__notes__``, so tracebacks show them. ``status`` is the status of the
    transaction the error is about, when known (``UnfinishedError``, and ``FailureError``
    after a ``wait_result`` submit: ``failed``), else None.
    """

    code: int = 9
    kind: str = "internal"

    def __init__(self, message: str = "", *, notes: Iterable[str] = (), status: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.notes: List[str] = []
        self.status = status
        _add_notes(self, list(notes))


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


class UnfinishedError(DtmxError):
    """A ``wait_result`` submit whose transaction dtm is still retrying (``status``:
    ``submitted``, ``aborting`` or ``prepared``, None when it could not be read): it is not
    rolled back, dtm goes on with it."""

    code, kind = 10, "unfinished"


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
        UnfinishedError,
    )
}


def _from_native(code: int, message: str, notes: List[str], status: Optional[str]) -> DtmxError:
    """The exception the native module raises for an error of ``code``."""
    return BY_CODE.get(code, InternalError)(message, notes=notes, status=status)


def _add_notes(exc: BaseException, notes: List[str]) -> None:
    """Attaches the core's ``notes`` to ``exc``: to a :class:`DtmxError`'s ``notes``, and
    to every exception's ``__notes__`` (``add_note``; by hand before Python 3.11)."""
    if isinstance(exc, DtmxError):
        exc.notes.extend(notes)
    for note in notes:
        add_note = getattr(exc, "add_note", None)
        if add_note is not None:
            add_note(note)
        else:
            existing = getattr(exc, "__notes__", None)
            if isinstance(existing, list):
                existing.append(note)
            else:
                exc.__notes__ = [note]  # type: ignore[attr-defined]
