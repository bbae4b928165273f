"""Bridges the native module's ``done(error, value)`` callbacks to asyncio futures."""

from __future__ import annotations

import asyncio
import inspect
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


def body(fut: "asyncio.Future[Any]", busi: Callable[..., Any]) -> Callable[..., None]:
    """The ``on_body(*args, resume)`` callback of a native ``run_async`` or
    ``do_and_submit_async``: runs ``busi(*args)`` on ``fut``'s loop (awaiting it when it
    returns an awaitable) and hands its value or exception to ``resume``."""
    loop = fut.get_loop()
    tasks: "set[asyncio.Task[None]]" = set()  # asyncio keeps only weak references

    async def run(args: "tuple[Any, ...]", resume: Any) -> None:
        try:
            result = busi(*args)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as e:  # noqa: B902 - handed to the core, re-raised by it
            resume.err(e)
        else:
            resume.ok(result)

    def start(args: "tuple[Any, ...]", resume: Any) -> None:
        task = loop.create_task(run(args, resume))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_body(*args: Any) -> None:
        loop.call_soon_threadsafe(start, args[:-1], args[-1])

    return on_body
