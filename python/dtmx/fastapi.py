"""FastAPI (and Starlette) helpers: the branch request as a dependency, replies, and a
decorator that turns an endpoint's result or exception into the reply dtm expects::

    @app.post("/api/busi/TransIn")
    @dtmx.fastapi.branch
    async def trans_in(body: dict, b: dtmx.Branch = Depends(dtmx.fastapi.branch_request)):
        ...
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional

from starlette.requests import Request
from starlette.responses import Response

from ._branch import CONTENT_TYPE, Branch, reply


def branch_request(request: Request) -> Branch:
    """The branch identity of ``request`` (use with ``Depends``)."""
    return Branch.from_query(request.url.query)


def response(error: Optional[BaseException] = None, result: Any = None) -> Response:
    """The reply dtm expects for ``error`` (None: success, with ``result`` as JSON if given)."""
    status, body = reply(error, result)
    return Response(body, status_code=status, media_type=CONTENT_TYPE)


def branch(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps an endpoint (sync or async): None is SUCCESS, a dict/list is returned as JSON,
    a Response as is; :class:`FailureError` is 409, :class:`OngoingError` 425, anything else
    500 (dtm retries). The signature is kept, so dependencies still resolve."""

    def finish(result: Any) -> Any:
        return result if isinstance(result, Response) else response(result=result)

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return finish(await endpoint(*args, **kwargs))
            except Exception as e:
                return response(e)

        return async_wrapper

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return finish(endpoint(*args, **kwargs))
        except Exception as e:
            return response(e)

    return wrapper
