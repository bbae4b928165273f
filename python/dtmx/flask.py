"""Flask helpers: the branch request of the current request, replies, and a decorator
that turns a view's result or exception into the reply dtm expects::

    @app.post("/api/busi/TransIn")
    @dtmx.flask.branch
    def trans_in():
        if request.json["amount"] > 100:
            raise dtmx.FailureError("not enough money")   # 409 FAILURE: roll back
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

from flask import Response, request

from ._branch import CONTENT_TYPE, Branch, reply


def branch_request() -> Branch:
    """The branch identity of the current request."""
    return Branch.from_query(request.query_string.decode("latin-1"))


def response(error: Optional[BaseException] = None, result: Any = None) -> Response:
    """The reply dtm expects for ``error`` (None: success, with ``result`` as JSON if given)."""
    status, body = reply(error, result)
    return Response(body, status=status, content_type=CONTENT_TYPE)


def branch(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a view: a return of None is SUCCESS, a dict/list is returned as JSON, a Flask
    response as is; :class:`FailureError` is 409, :class:`OngoingError` 425, anything else
    500 (dtm retries)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = view(*args, **kwargs)
        except Exception as e:
            return response(e)
        if isinstance(result, Response):
            return result
        return response(result=result)

    return wrapper
