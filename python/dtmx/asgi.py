"""Plain ASGI: the branch request from the ``scope`` and the reply through ``send``."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional

from ._branch import CONTENT_TYPE, Branch, reply


def branch_request(scope: Dict[str, Any]) -> Branch:
    """The branch identity from the request's query string."""
    return Branch.from_query(scope.get("query_string", b"").decode("latin-1"))


async def respond(
    send: Callable[[Dict[str, Any]], Awaitable[None]], error: Optional[BaseException] = None, result: Any = None
) -> None:
    """Sends the reply dtm expects for ``error`` (None: success)."""
    status, body = reply(error, result)
    data = body.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
