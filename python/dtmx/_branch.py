"""The business-service side, framework-free: who is calling (:class:`Branch`), what to
answer dtm (:func:`reply`, :func:`outcome_reply`) and how dtm reads an answer
(:func:`outcome_from_http`, :func:`outcome_from_grpc`)."""

from __future__ import annotations

import json
from typing import Any, Optional, Tuple

from . import _native
from ._errors import DtmxError

#: The identity of a branch call: ``gid``, ``trans_type``, ``branch_id``, ``op``, ``dtm``,
#: ``phase2_url`` (read from the query string, decoded query pairs or gRPC metadata).
Branch = _native.Branch

#: The content type of every reply body.
CONTENT_TYPE = "application/json"


def outcome_reply(outcome: str, message: str = "") -> Tuple[int, str]:
    """``(status, body)`` for dtm for an outcome (``success``, ``failure``, ``ongoing``,
    ``unknown``) and its message: 200 SUCCESS, 409 FAILURE, 425 ONGOING, 500 (retry)."""
    return _native.outcome_reply(outcome, message)


def outcome_of_error(error: BaseException) -> Tuple[str, str]:
    """``(outcome, message)`` of a handler's exception: ``failure`` for
    :class:`FailureError`, ``ongoing`` for :class:`OngoingError`, ``unknown`` (retried,
    never a rollback) for any other exception."""
    if isinstance(error, DtmxError):
        return _native.outcome_of_error(error.code, error.message)
    return _native.outcome_of_error(None, f"{type(error).__name__}: {error}")


def reply(error: Optional[BaseException] = None, result: Any = None) -> Tuple[int, str]:
    """``(status, body)`` for dtm: 200 SUCCESS when ``error`` is None (or ``result`` as JSON
    when given), 409 for :class:`FailureError`, 425 for :class:`OngoingError`, 500 (retry)
    for any other exception."""
    if error is None:
        if result is None:
            return outcome_reply("success")
        return 200, json.dumps(result, separators=(",", ":"))
    return outcome_reply(*outcome_of_error(error))


def outcome_from_http(status: int, body: bytes) -> Tuple[str, str]:
    """How dtm reads a branch's HTTP reply: ``(outcome, message)`` with outcome
    ``success``, ``failure``, ``ongoing`` or ``unknown``."""
    return _native.outcome_from_http(status, body)


def outcome_from_grpc(code: int, message: str = "") -> Tuple[str, str]:
    """How dtm reads a branch's gRPC status ``code``: ``(outcome, message)``."""
    return _native.outcome_from_grpc(code, message)


def grpc_code(outcome: str, message: str = "") -> int:
    """The gRPC status code to answer dtm with for an outcome (0 OK, 10 ABORTED for
    ``failure``, 9 FAILED_PRECONDITION for ``ongoing``, 2 UNKNOWN)."""
    return _native.grpc_code(outcome, message)


def check_branch_reply(status: int, body: bytes) -> None:
    """Raises the error a branch's reply to a call the client made itself (TCC try, XA
    action, msg check-back) stands for: :class:`FailureError`, :class:`OngoingError`,
    :class:`ServerError`; returns for a success."""
    _native.check_branch_reply(status, body)


def check_server_reply(status: int, body: bytes) -> None:
    """Raises the error a reply of the DTM server stands for; returns for a success."""
    _native.check_server_reply(status, body)
