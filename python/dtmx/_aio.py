"""Bridges the native module's ``done(error, value)`` callbacks to asyncio futures."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional


def _settle(fut: "asyncio.Future[Any]", error: Optional[BaseException], value: Any) -> None:
    if fut.cancelled():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)


def pending() -> "tuple[asyncio.Future[Any], Callable[[Optional[BaseException], Any], None]]":
    """A future of the running loop and the thread-safe callback that settles it."""
    loop = asyncio.get_running_loop()
    fut: "asyncio.Future[Any]" = loop.create_future()

    def done(error: Optional[BaseException], value: Any) -> None:
        try:
            loop.call_soon_threadsafe(_settle, fut, error, value)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    return fut, done


async def call(start: Callable[..., None], *args: Any) -> Any:
    """Starts a native ``*_async`` call with a done callback and awaits its result."""
    fut, done = pending()
    start(*args, done)
    return await fut
