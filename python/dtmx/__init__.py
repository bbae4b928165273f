"""dtmx: DTM-compatible distributed transactions on dtmx's shared Rust core.

TM side: :class:`Client` starts a :class:`Saga`, :class:`Msg`, :class:`Tcc` or :class:`Xa`
(blocking calls release the GIL; every call has an ``*_async`` twin for asyncio).
RM side: :class:`BranchRequest`, :func:`reply`, the barrier in :mod:`dtmx.barrier`, XA
branches in :mod:`dtmx.xa`, and helpers for Flask, FastAPI, WSGI and ASGI.
Every error is a :class:`DtmxError`.
"""

from .branch import BranchRequest, outcome_of, reply
from .client import Client, Msg, Reply, Saga, Tcc, Xa
from .errors import (
    DatabaseError,
    DtmxError,
    DuplicatedError,
    FailureError,
    InternalError,
    InvalidArgumentError,
    OngoingError,
    ServerError,
    TimeoutError,
    TransportError,
    UnfinishedError,
)

__version__ = "0.1.0"

__all__ = [
    "BranchRequest",
    "Client",
    "DatabaseError",
    "DtmxError",
    "DuplicatedError",
    "FailureError",
    "InternalError",
    "InvalidArgumentError",
    "Msg",
    "OngoingError",
    "Reply",
    "Saga",
    "ServerError",
    "Tcc",
    "TimeoutError",
    "TransportError",
    "UnfinishedError",
    "Xa",
    "outcome_of",
    "reply",
]
