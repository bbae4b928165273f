"""Plain WSGI: the branch request from ``environ`` and the reply through
``start_response``."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from ._branch import CONTENT_TYPE, Branch, reply


def branch_request(environ: Dict[str, Any]) -> Branch:
    """The branch identity from the request's query string."""
    return Branch.from_query(environ.get("QUERY_STRING", ""))


_REASONS = {200: "OK", 409: "Conflict", 425: "Too Early", 500: "Internal Server Error"}


def respond(
    start_response: Callable[..., Any], error: Optional[BaseException] = None, result: Any = None
) -> List[bytes]:
    """Starts the reply dtm expects for ``error`` (None: success) and returns the body."""
    status, body = reply(error, result)
    data = body.encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))],
    )
    return [data]
