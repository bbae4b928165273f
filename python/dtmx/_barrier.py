"""The sub-transaction barrier on the caller's own connection.

Works on any DB-API 2.0 connection of sqlite3, psycopg (3), psycopg2, PyMySQL and mysqlclient
(MySQLdb), and on redis-py. dtmx's core decides everything, including who owns the
database transaction; this module only carries out what the core's guard asks for (begin,
a statement, the business code, commit, rollback) on the driver::

    barrier = dtmx.Barrier.from_branch(branch)
    barrier.call(conn, lambda cur: cur.execute("update ... "))

A connection with no transaction open gets the barrier's own transaction: begun, committed
when the business code returns or is skipped, rolled back when anything raises. A
connection already inside a transaction (the driver says so, or ``in_transaction=True``)
is joined: the barrier rows and the business code go into it, and committing or rolling
back stays with the caller.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

from . import _native
from ._branch import Branch

T = TypeVar("T")

# libpq's PQTRANSACTION_INTRANS and PQTRANSACTION_INERROR (psycopg 3 and psycopg2 alike).
_PG_IN_TRANSACTION = (2, 3)
# MySQL's SERVER_STATUS_IN_TRANS flag of the server status.
_MYSQL_IN_TRANS = 1


class _Driver(NamedTuple):
    """What dtmx knows of a DB-API driver."""

    dialect: str
    paramstyle: str
    #: Whether the connection is inside a transaction; None: the driver cannot tell.
    in_transaction: Callable[[Any], Optional[bool]]
    #: Whether the driver begins a transaction by itself with the next statement (then
    #: it is ended with ``conn.commit()``/``conn.rollback()``, else with SQL).
    begins_itself: Callable[[Any], bool]


def _never(conn: Any) -> bool:
    return False


_DRIVERS: Dict[str, _Driver] = {
    "sqlite3": _Driver("sqlite", "qmark", lambda c: bool(c.in_transaction), _never),
    "psycopg": _Driver("postgres", "format", lambda c: c.info.transaction_status in _PG_IN_TRANSACTION,
                       lambda c: not c.autocommit),
    "psycopg2": _Driver("postgres", "format", lambda c: c.get_transaction_status() in _PG_IN_TRANSACTION,
                        lambda c: not c.autocommit),
    "pymysql": _Driver("mysql", "format", lambda c: bool(c.server_status & _MYSQL_IN_TRANS), _never),
    "MySQLdb": _Driver("mysql", "format", lambda c: None, _never),
}


def _driver(conn: Any) -> Optional[_Driver]:
    root = type(conn).__module__.split(".")[0]
    return _DRIVERS.get("sqlite3" if root == "_sqlite3" else root)


def driver_of(conn: Any) -> Tuple[str, str]:
    """``(dialect, paramstyle)`` of a DB-API connection, from its driver's module."""
    d = _driver(conn)
    if d is None:
        from ._errors import InvalidArgumentError

        root = type(conn).__module__.split(".")[0]
        raise InvalidArgumentError(f"unsupported DB-API driver {root!r}; pass dialect= and paramstyle=")
    return d.dialect, d.paramstyle


class BarrierTable:
    """Where the barrier rows live: a dialect (``mysql``, ``postgres``, ``sqlite``) and a
    table name (default ``dtm_barrier.barrier``, ``barrier`` on SQLite)."""

    def __init__(self, dialect: str, name: Optional[str] = None) -> None:
        self._n = _native.BarrierTable(dialect, name)

    @property
    def dialect(self) -> str:
        """The dialect's stable name."""
        return self._n.dialect

    @property
    def name(self) -> str:
        """The table name."""
        return self._n.name

    def ddl(self) -> "list[str]":
        """The statements that create the table when missing."""
        return self._n.ddl()

    def insert_ignore_sql(self) -> str:
        """The statement inserting a barrier row unless it exists (``?`` placeholders of
        the core; see :meth:`render`)."""
        return self._n.insert_ignore_sql()

    def select_reason_sql(self) -> str:
        """The statement reading the ``reason`` of a barrier row."""
        return self._n.select_reason_sql()

    def render(self, sql: str, style: str) -> str:
        """``sql`` of this table with placeholders in a DB-API ``paramstyle``: ``qmark``,
        ``format``, ``pyformat``, ``dollar`` or ``numeric``."""
        return self._n.render(sql, style)

    def create(self, conn: Any) -> None:
        """Creates the table (and schema) on ``conn`` when missing, and commits."""
        cur = conn.cursor()
        try:
            for sql in self.ddl():
                cur.execute(sql)
            conn.commit()
        finally:
            cur.close()


def _resolve(conn: Any, table: Optional[BarrierTable], paramstyle: Optional[str]) -> Tuple[BarrierTable, str]:
    """The barrier table and parameter style for ``conn``: the ones given, else its driver's."""
    if table is None or paramstyle is None:
        dialect, style = driver_of(conn)
        return table or BarrierTable(dialect), paramstyle or style
    return table, paramstyle


def _ownership(conn: Any, in_transaction: Optional[bool]) -> Any:
    """The core's ownership for ``conn``: from ``in_transaction`` when given, else from the
    driver's fact (a driver that cannot tell counts as not in a transaction)."""
    if in_transaction is None:
        d = _driver(conn)
        in_transaction = bool(d is not None and d.in_transaction(conn))
    return _native.Ownership.for_connection(in_transaction)


def _drive(guard: Any, conn: Any, table: BarrierTable, style: str, busi: Callable[[Any], T]) -> Optional[T]:
    """Carries out the actions of the core's ``guard`` on ``conn``, the statements and
    ``busi`` on one cursor, and reports each back; returns ``busi``'s value when it ran."""
    d = _driver(conn)
    begun_by_driver = False
    value: Optional[T] = None
    cur = conn.cursor()
    try:
        while True:
            action = guard.action()
            kind = action[0]
            if kind == "return":
                return value
            if kind == "raise":
                raise action[1]
            report: Callable[[], None] = guard.ok
            try:
                if kind == "begin":
                    begun_by_driver = d is not None and d.begins_itself(conn)
                    if not begun_by_driver:
                        cur.execute("BEGIN")
                elif kind in ("commit", "rollback"):
                    if begun_by_driver:
                        (conn.commit if kind == "commit" else conn.rollback)()
                    else:
                        cur.execute(kind.upper())
                elif kind == "business":
                    value = busi(cur)
                else:
                    cur.execute(table._n.render(action[1], style), tuple(action[2]))
                    if kind == "execute":
                        report = functools.partial(guard.feed_affected, max(cur.rowcount, 0))
                    else:
                        row = cur.fetchone()
                        report = functools.partial(guard.feed_reason, None if row is None else str(row[0]))
            except BaseException as e:  # kept by the guard, raised in the end (after a rollback)
                guard.fail(e)
                continue
            report()
    finally:
        cur.close()


class Barrier:
    """The barrier of one branch call; build one per request."""

    def __init__(self, trans_type: str, gid: str, branch_id: str, op: str) -> None:
        self._n = _native.Barrier(trans_type, gid, branch_id, op)

    @classmethod
    def _of(cls, native: Any) -> "Barrier":
        b = cls.__new__(cls)
        b._n = native
        return b

    @classmethod
    def from_branch(cls, branch: Branch) -> "Barrier":
        """The barrier of a parsed :class:`Branch`."""
        return cls._of(_native.Barrier.from_branch(branch))

    @classmethod
    def from_query(cls, query: str) -> "Barrier":
        """The barrier of the raw query string of an HTTP branch call (with or without
        ``?``)."""
        return cls._of(_native.Barrier.from_query(query))

    @classmethod
    def from_query_pairs(cls, pairs: Sequence[Tuple[str, str]]) -> "Barrier":
        """The barrier of decoded query pairs (the first value of a key wins)."""
        return cls._of(_native.Barrier.from_query_pairs([tuple(p) for p in pairs]))

    @classmethod
    def from_grpc_metadata(cls, pairs: Sequence[Tuple[str, str]]) -> "Barrier":
        """The barrier of a gRPC branch call's metadata (``dtm-gid``, ...)."""
        return cls._of(_native.Barrier.from_grpc_metadata([tuple(p) for p in pairs]))

    @classmethod
    def for_msg(cls, gid: str) -> "Barrier":
        """The barrier of the msg ``gid``'s local work and check-back (``msg``, ``gid``,
        ``00``, ``msg``)."""
        return cls._of(_native.Barrier.for_msg(gid))

    @staticmethod
    def redis_default_expire() -> int:
        """The default expiry of Redis barrier keys, in seconds (one week, as DTM)."""
        return _native.REDIS_DEFAULT_EXPIRE

    @property
    def trans_type(self) -> str:
        """The transaction type (``saga``, ``tcc``, ``xa``, ``msg``)."""
        return self._n.trans_type

    @property
    def gid(self) -> str:
        """The global transaction id."""
        return self._n.gid

    @property
    def branch_id(self) -> str:
        """The branch id."""
        return self._n.branch_id

    @property
    def op(self) -> str:
        """The branch operation (``action``, ``compensate``, ``try``, ...)."""
        return self._n.op

    def next_barrier_id(self) -> str:
        """Hands out the next barrier id (``01``, ``02``, ...): one per guarded call."""
        return self._n.next_barrier_id()

    def call(
        self,
        conn: Any,
        busi: Callable[[Any], T],
        *,
        table: Optional[BarrierTable] = None,
        paramstyle: Optional[str] = None,
        in_transaction: Optional[bool] = None,
    ) -> Optional[T]:
        """Runs ``busi(cursor)`` at most once for this branch, together with the barrier
        rows. On a connection with no transaction open that is the barrier's own
        transaction: committed when ``busi`` returns (or is skipped), rolled back when
        anything raises. On a connection inside a transaction (``in_transaction``: None asks
        the driver) the barrier joins it and leaves the commit or rollback to you.

        Returns ``busi``'s result, or None when the barrier skipped it (a duplicate, a
        null compensation or a suspended try/action). Raises what ``busi`` or the driver
        raised (the same exception), or :class:`DuplicatedError` for a msg whose check-back
        already rolled it back."""
        table, style = _resolve(conn, table, paramstyle)
        guard = _native.Guard(self._n.call_machine(table._n), _ownership(conn, in_transaction))
        return _drive(guard, conn, table, style, busi)

    def query_prepared(
        self,
        conn: Any,
        *,
        table: Optional[BarrierTable] = None,
        paramstyle: Optional[str] = None,
        in_transaction: Optional[bool] = None,
    ) -> None:
        """The msg check-back on ``conn`` (for the barrier of a check-back request, or
        :meth:`for_msg`): returns when the local transaction of this ``gid`` committed,
        raises :class:`FailureError` when it did not (and now never will). Both answers are
        committed, in the barrier's own transaction on a connection with none open; inside
        an open one (``in_transaction`` as for :meth:`call`) committing stays with you.
        Answer dtm with :func:`dtmx.reply`."""
        table, style = _resolve(conn, table, paramstyle)
        query = _native.Barrier.for_msg(self.gid).query_prepared_machine(table._n)
        guard = _native.Guard.check_back(query, self.gid, _ownership(conn, in_transaction))
        _drive(guard, conn, table, style, lambda cur: None)

    def redis_check_adjust_amount(self, redis: Any, key: str, amount: int, expire: Optional[int] = None) -> str:
        """Adds ``amount`` to the integer at ``key`` at most once for this branch, with a
        redis-py client (keys expire after ``expire`` seconds, default
        :meth:`redis_default_expire`). Returns ``applied``, ``null_compensation``,
        ``duplicate`` or ``suspended``; raises :class:`FailureError` when the key is missing
        or the amount would go below zero."""
        call = self.redis_check_adjust_amount_call(key, amount, expire)
        reply = redis.eval(call.script, len(call.keys), *call.keys, *call.args)
        return call.decide(_text(reply))

    def redis_query_prepared(self, redis: Any, expire: Optional[int] = None) -> None:
        """The msg check-back on Redis (for a msg whose local work used
        :meth:`redis_check_adjust_amount`): returns or raises as :meth:`query_prepared`."""
        q = _native.Barrier.for_msg(self.gid).redis_query_prepared_call(_expire(expire))
        q.check(_text(redis.eval(q.script, len(q.keys), *q.keys, *q.args)))

    def check_back(self, result: str) -> None:
        """What a check-back handler answers for a check-back ``result`` it found itself:
        returns for ``SUCCESS``, raises :class:`FailureError` for anything else."""
        self._n.check_back(result)

    def call_machine(self, table: BarrierTable) -> Any:
        """The sans-IO step machine of one guarded call (hands out the next barrier id):
        ``step()`` is ``("execute", sql, params)``, ``("query", sql, params)`` or ``("done",
        decision)``; report with ``feed_affected(rows)`` / ``feed_reason(reason)``."""
        return self._n.call_machine(table._n)

    def query_prepared_machine(self, table: BarrierTable) -> Any:
        """The sans-IO step machine of the msg check-back; done with ``SUCCESS`` or
        ``FAILURE``."""
        return self._n.query_prepared_machine(table._n)

    def xa_action_machine(self, table: BarrierTable) -> Any:
        """The sans-IO step machine of an XA branch's phase 1."""
        return self._n.xa_action_machine(table._n)

    def xa_rollback_fence(self, table: BarrierTable) -> Tuple[str, List[str]]:
        """The fence statement after an XA phase-2 rollback: ``(sql, params)``."""
        return self._n.xa_rollback_fence(table._n)

    def redis_check_adjust_amount_call(self, key: str, amount: int, expire: Optional[int] = None) -> Any:
        """The script of :meth:`redis_check_adjust_amount` for your own Redis client:
        ``script``, ``keys``, ``args``, and ``decide(reply)``."""
        return self._n.redis_check_adjust_amount_call(key, amount, _expire(expire))

    def redis_query_prepared_call(self, expire: Optional[int] = None) -> Any:
        """The script of :meth:`redis_query_prepared` for your own Redis client:
        ``script``, ``keys``, ``args``, ``decide(reply)`` and ``check(reply)``."""
        return self._n.redis_query_prepared_call(_expire(expire))

    def __repr__(self) -> str:
        return f"Barrier({self.trans_type!r}, {self.gid!r}, {self.branch_id!r}, {self.op!r})"


def _expire(expire: Optional[int]) -> int:
    return _native.REDIS_DEFAULT_EXPIRE if expire is None else expire


def _text(reply: Any) -> Optional[str]:
    if reply is None:
        return None
    return reply.decode() if isinstance(reply, bytes) else str(reply)
