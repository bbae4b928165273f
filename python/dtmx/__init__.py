"""dtmx: DTM-compatible distributed transactions on dtmx's shared Rust core.

TM side: :class:`Client` starts a :class:`Saga`, :class:`Msg`, :class:`Tcc` or :class:`Xa`
(blocking calls release the GIL; every call has an ``*_async`` twin for asyncio).
RM side: :class:`Branch` (who is calling), :func:`reply` and the outcome helpers (what to
answer dtm), the sub-transaction :class:`Barrier` on a :class:`BarrierTable`, XA branches
with :func:`xa_local` (or its machine :class:`XaLocal`), and helpers for Flask, FastAPI,
WSGI and ASGI in :mod:`dtmx.flask`, :mod:`dtmx.fastapi`, :mod:`dtmx.wsgi`, :mod:`dtmx.asgi`.
Every error is a :class:`DtmxError`. :mod:`dtmx.testing` starts a real dtmx server for
tests (and is a pytest plugin: the fixture ``dtmx_server``).

PYTEST_DONT_REWRITE: pytest, loading dtmx.testing as a plugin, would otherwise rewrite the
asserts of every module of this package and add its helpers to this namespace.

The public names are the ones of every dtmx package (tests/vectors/api.json in the
repository); tests/test_api_manifest.py keeps this package equal to that manifest.
"""

from ._barrier import Barrier, BarrierTable
from ._branch import (
    Branch,
    check_branch_reply,
    check_server_reply,
    grpc_code,
    outcome_from_grpc,
    outcome_from_http,
    outcome_of_error,
    outcome_reply,
    reply,
)
from ._client import BranchReply, Client, Msg, Saga, Tcc, Xa
from ._errors import (
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
from ._xa import XaLocal, xa_local

__version__ = "0.1.0"

__all__ = [
    "Barrier",
    "BarrierTable",
    "Branch",
    "BranchReply",
    "Client",
    "DatabaseError",
    "DtmxError",
    "DuplicatedError",
    "FailureError",
    "InternalError",
    "InvalidArgumentError",
    "Msg",
    "OngoingError",
    "Saga",
    "ServerError",
    "Tcc",
    "TimeoutError",
    "TransportError",
    "UnfinishedError",
    "Xa",
    "XaLocal",
    "check_branch_reply",
    "check_server_reply",
    "grpc_code",
    "outcome_from_grpc",
    "outcome_from_http",
    "outcome_of_error",
    "outcome_reply",
    "reply",
    "xa_local",
]
