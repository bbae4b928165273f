"""The TM side: :class:`Client` and the transactions it starts (saga, msg, TCC, XA).

Every blocking call releases the GIL while it waits; every ``*_async`` twin is a coroutine
for asyncio.

``run()`` (TCC, XA) and ``do_and_submit()`` (msg) are the core's: prepare, the body, then
submit, or abort (msg: or ask the check-back) when the body raised. The body's exception
always wins: it is re-raised as it was, with what failed after it (a failing abort,
check-back or submit) in its ``__notes__`` (and in ``notes`` of a :class:`DtmxError`).
They return the body's return value.

A submit with ``wait_result`` raises :class:`FailureError` (``status`` ``failed``) only
when the transaction was rolled back, :class:`UnfinishedError` (with its ``status``) when
dtm is still retrying it.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Tuple, TypeVar, Union

from . import _aio, _native
from ._payload import Payload, encode
from ._branch import Branch

T = TypeVar("T")

#: A custom transport: ``(method, url, headers, body, timeout) -> (status, body)``.
Transport = Callable[[str, str, List[Tuple[str, str]], Optional[bytes], Optional[float]], Tuple[int, bytes]]


class BranchReply(NamedTuple):
    """A branch's reply to a call the client made itself (TCC try, XA action)."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


class Client:
    """A DTM server (``http://host:36789/api/dtmsvr``) and the way to reach it.

    Options accepted by every transaction factory: ``wait_result``, ``timeout_to_fail``,
    ``retry_interval``, ``request_timeout``, ``retry_limit``, ``branch_headers`` and
    ``concurrent``.

    ``token`` is the bearer token for a server with authentication on: every request to
    the server (not to branches) then carries ``Authorization: Bearer <token>``. A token
    that is empty or holds whitespace or control characters raises
    :class:`InvalidArgumentError`.
    """

    def __init__(self, server: str, *, transport: Optional[Transport] = None, token: Optional[str] = None) -> None:
        self._n = _native.Client(server, transport, token)

    @property
    def server(self) -> str:
        """The server URL."""
        return self._n.server

    def local_gid(self) -> str:
        """A new gid made locally, without a request."""
        return self._n.local_gid()

    def new_gid(self) -> str:
        """A new gid from the server."""
        return self._n.new_gid()

    async def new_gid_async(self) -> str:
        """A new gid from the server."""
        return await _aio.call(self._n.new_gid_async)

    def query(self, gid: str) -> Dict[str, Any]:
        """The transaction and its branches as the server reports them."""
        return json.loads(self._n.query(gid))

    async def query_async(self, gid: str) -> Dict[str, Any]:
        """The transaction and its branches as the server reports them."""
        return json.loads(await _aio.call(self._n.query_async, gid))

    def wait_final(self, gid: str, timeout: float = 10.0, interval: float = 0.1) -> str:
        """Polls until the transaction is ``succeed`` or ``failed`` and returns that status."""
        return self._n.wait_final(gid, timeout, interval)

    async def wait_final_async(self, gid: str, timeout: float = 10.0, interval: float = 0.1) -> str:
        """Polls until the transaction is ``succeed`` or ``failed`` and returns that status."""
        return await _aio.call(self._n.wait_final_async, gid, timeout, interval)

    def saga(self, gid: Optional[str] = None, **options: Any) -> "Saga":
        """A new saga (a local gid when ``gid`` is not given)."""
        return Saga(self._n.saga(gid, options))

    def msg(self, gid: Optional[str] = None, **options: Any) -> "Msg":
        """A new two-phase message."""
        return Msg(self._n.msg(gid, options))

    def tcc(self, gid: Optional[str] = None, **options: Any) -> "Tcc":
        """A new TCC global transaction."""
        return Tcc(self._n.tcc(gid, options))

    def tcc_from_branch(self, branch: Branch, **options: Any) -> "Tcc":
        """A TCC nested in the branch whose try request ``branch`` describes."""
        return Tcc(self._n.tcc_from_branch(branch, options))

    def xa(self, gid: Optional[str] = None, **options: Any) -> "Xa":
        """A new XA global transaction."""
        return Xa(self._n.xa(gid, options))


class Saga:
    """A saga: steps of an action and its compensation; dtm runs and rolls back."""

    def __init__(self, native: Any) -> None:
        self._n = native

    @property
    def gid(self) -> str:
        """The global transaction id."""
        return self._n.gid

    def add(self, action: str, compensate: str, payload: Payload = None) -> "Saga":
        """Adds a step (an empty ``compensate`` has no compensation)."""
        self._n.add(action, compensate, encode(payload))
        return self

    def add_branch_order(self, branch: int, pre_branches: List[int]) -> "Saga":
        """Step ``branch`` (0-based) starts after the actions of ``pre_branches``."""
        self._n.add_branch_order(branch, list(pre_branches))
        return self

    def enable_concurrent(self) -> "Saga":
        """Runs the actions concurrently, constrained by the branch orders."""
        self._n.enable_concurrent()
        return self

    def submit(self) -> None:
        """Submits; with ``wait_result`` a failed saga raises :class:`FailureError`, one dtm
        still retries :class:`UnfinishedError`."""
        self._n.submit()

    async def submit_async(self) -> None:
        """Submits; with ``wait_result`` a failed saga raises :class:`FailureError`, one dtm
        still retries :class:`UnfinishedError`."""
        await _aio.call(self._n.submit_async)


class Msg:
    """A two-phase message: prepare, local work, submit; dtm delivers every step."""

    def __init__(self, native: Any) -> None:
        self._n = native

    @property
    def gid(self) -> str:
        """The global transaction id."""
        return self._n.gid

    def add(self, action: str, payload: Payload = None) -> "Msg":
        """Adds a step: dtm POSTs ``payload`` to ``action``."""
        self._n.add(action, encode(payload))
        return self

    def add_topic(self, topic: str, payload: Payload = None) -> "Msg":
        """Adds a step for every subscriber of ``topic``."""
        self._n.add_topic(topic, encode(payload))
        return self

    def set_delay(self, seconds: int) -> "Msg":
        """Delivers the steps ``seconds`` after the submit."""
        self._n.set_delay(seconds)
        return self

    def enable_concurrent(self) -> "Msg":
        """Delivers the steps concurrently."""
        self._n.enable_concurrent()
        return self

    def prepare(self, query_prepared: str) -> None:
        """Prepares the message; dtm asks ``query_prepared`` if no submit comes."""
        self._n.prepare(query_prepared)

    async def prepare_async(self, query_prepared: str) -> None:
        """Prepares the message; dtm asks ``query_prepared`` if no submit comes."""
        await _aio.call(self._n.prepare_async, query_prepared)

    def submit(self) -> None:
        """Submits the message."""
        self._n.submit()

    async def submit_async(self) -> None:
        """Submits the message."""
        await _aio.call(self._n.submit_async)

    def abort(self) -> None:
        """Aborts a prepared message."""
        self._n.abort()

    async def abort_async(self) -> None:
        """Aborts a prepared message."""
        await _aio.call(self._n.abort_async)

    def do_and_submit(self, query_prepared: str, busi: Callable[[Branch], T]) -> T:
        """Prepares, runs ``busi(branch)`` (the local transaction, guarded by the msg barrier
        of ``branch``), then submits and returns ``busi``'s value. When ``busi`` raises
        :class:`FailureError` the message is aborted; when it raises anything else the
        check-back decides (submit, abort, or nothing: dtm checks back later). ``busi``'s
        exception is re-raised, what failed after it in its notes."""
        return self._n.do_and_submit(query_prepared, busi)

    async def do_and_submit_async(
        self, query_prepared: str, busi: Callable[[Branch], Union[Awaitable[T], T]]
    ) -> T:
        """:meth:`do_and_submit` with ``busi`` a coroutine function (or a plain one)."""
        fut, done = _aio.pending()
        self._n.do_and_submit_async(query_prepared, _aio.body(fut, busi), done)
        return await fut


class Tcc:
    """A TCC global transaction: the client calls each try; dtm confirms or cancels."""

    def __init__(self, native: Any) -> None:
        self._n = native

    @property
    def gid(self) -> str:
        """The global transaction id."""
        return self._n.gid

    def current_branch_id(self) -> str:
        """The id of the last branch created (``00`` before the first)."""
        return self._n.current_branch_id()

    def prepare(self) -> None:
        """Prepares the global transaction."""
        self._n.prepare()

    async def prepare_async(self) -> None:
        """Prepares the global transaction."""
        await _aio.call(self._n.prepare_async)

    def submit(self) -> None:
        """Submits: dtm confirms every branch."""
        self._n.submit()

    async def submit_async(self) -> None:
        """Submits: dtm confirms every branch."""
        await _aio.call(self._n.submit_async)

    def abort(self, reason: str = "") -> None:
        """Aborts: dtm cancels every branch; ``reason`` is recorded."""
        self._n.abort(reason)

    async def abort_async(self, reason: str = "") -> None:
        """Aborts: dtm cancels every branch; ``reason`` is recorded."""
        await _aio.call(self._n.abort_async, reason)

    def call_branch(self, payload: Payload, try_url: str, confirm_url: str, cancel_url: str) -> BranchReply:
        """Registers a branch and calls its try; a refusal raises :class:`FailureError`."""
        return BranchReply(*self._n.call_branch(encode(payload), try_url, confirm_url, cancel_url))

    async def call_branch_async(self, payload: Payload, try_url: str, confirm_url: str, cancel_url: str) -> BranchReply:
        """Registers a branch and calls its try; a refusal raises :class:`FailureError`."""
        r = await _aio.call(self._n.call_branch_async, encode(payload), try_url, confirm_url, cancel_url)
        return BranchReply(*r)

    def run(self, busi: Callable[["Tcc"], T]) -> T:
        """Prepares, runs ``busi(self)`` (which calls the branches), then submits and
        returns ``busi``'s value. If ``busi`` raises, aborts with its message as the rollback
        reason and re-raises it, a failing abort in its notes."""
        return self._n.run(lambda: busi(self))

    async def run_async(self, busi: Callable[["Tcc"], Union[Awaitable[T], T]]) -> T:
        """:meth:`run` with ``busi`` a coroutine function (or a plain one)."""
        fut, done = _aio.pending()
        self._n.run_async(_aio.body(fut, lambda: busi(self)), done)
        return await fut


class Xa:
    """An XA global transaction: the client calls each branch; dtm commits or rolls back."""

    def __init__(self, native: Any) -> None:
        self._n = native

    @property
    def gid(self) -> str:
        """The global transaction id."""
        return self._n.gid

    def current_branch_id(self) -> str:
        """The id of the last branch created (``00`` before the first)."""
        return self._n.current_branch_id()

    def prepare(self) -> None:
        """Prepares the global transaction."""
        self._n.prepare()

    async def prepare_async(self) -> None:
        """Prepares the global transaction."""
        await _aio.call(self._n.prepare_async)

    def submit(self) -> None:
        """Submits: dtm commits every branch."""
        self._n.submit()

    async def submit_async(self) -> None:
        """Submits: dtm commits every branch."""
        await _aio.call(self._n.submit_async)

    def abort(self) -> None:
        """Aborts: dtm rolls back every branch."""
        self._n.abort()

    async def abort_async(self) -> None:
        """Aborts: dtm rolls back every branch."""
        await _aio.call(self._n.abort_async)

    def call_branch(self, payload: Payload, url: str) -> BranchReply:
        """Calls a new branch at ``url`` (also its phase-2 URL)."""
        return BranchReply(*self._n.call_branch(encode(payload), url))

    async def call_branch_async(self, payload: Payload, url: str) -> BranchReply:
        """Calls a new branch at ``url`` (also its phase-2 URL)."""
        return BranchReply(*await _aio.call(self._n.call_branch_async, encode(payload), url))

    def run(self, busi: Callable[["Xa"], T]) -> T:
        """Prepares, runs ``busi(self)`` (which calls the branches), then submits and
        returns ``busi``'s value. If ``busi`` raises, aborts and re-raises it, a failing
        abort in its notes."""
        return self._n.run(lambda: busi(self))

    async def run_async(self, busi: Callable[["Xa"], Union[Awaitable[T], T]]) -> T:
        """:meth:`run` with ``busi`` a coroutine function (or a plain one)."""
        fut, done = _aio.pending()
        self._n.run_async(_aio.body(fut, lambda: busi(self)), done)
        return await fut
