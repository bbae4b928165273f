"""The business-service side, framework-free: who is calling (:class:`BranchRequest`) and
what to answer dtm for a handler's result (:func:`reply`)."""

from __future__ import annotations

import json
from typing import Any, Optional, Tuple

from . import _native
from .errors import DtmxError

#: The identity of a branch call: ``gid``, ``trans_type``, ``branch_id``, ``op``, ``dtm``,
#: ``phase2_url`` (read from the query string, or from gRPC metadata).
BranchRequest = _native.BranchRequest

#: The content type of every reply body.
CONTENT_TYPE = "application/json"


def reply(error: Optional[BaseException] = None, result: Any = None) -> Tuple[int, str]:
    """``(status, body)`` for dtm: 200 SUCCESS when ``error`` is None (or ``result`` as JSON
    when given), 409 for :class:`FailureError`, 425 for :class:`OngoingError`, 500 (retry)
    for any other exception."""
    if error is None:
        if result is None:
            return _native.outcome_reply("success", "")
        return 200, json.dumps(result, separators=(",", ":"))
    if isinstance(error, DtmxError):
        return _native.error_reply(error.code, error.message)
    return _native.error_reply(None, f"{type(error).__name__}: {error}")


def outcome_of(status: int, body: bytes) -> Tuple[str, str]:
    """How dtm reads a branch reply: ``(outcome, message)`` with outcome ``success``,
    ``failure``, ``ongoing`` or ``unknown``."""
    return _native.outcome_from_http(status, body)
