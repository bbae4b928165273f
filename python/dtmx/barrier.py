"""The sub-transaction barrier on the caller's own connection.

Works on any DB-API 2.0 connection of sqlite3, psycopg (3), PyMySQL (and mysqlclient,
psycopg2), and on redis-py. dtmx's core decides; this module only runs the SQL it hands
out, in the caller's transaction::

    barrier = dtmx.barrier.Barrier.from_branch(branch)
    barrier.call(conn, lambda cur: cur.execute("update ... "))

The connection must not be in autocommit mode: the barrier rows and the business SQL
commit (or roll back) together.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple, TypeVar

from . import _native
from .branch import BranchRequest

T = TypeVar("T")

#: Default expiry of Redis barrier keys, in seconds (the core's: one week, as DTM).
REDIS_EXPIRE: int = _native.REDIS_EXPIRE_SECS

_DRIVERS = {
    "sqlite3": ("sqlite", "qmark"),
    "psycopg": ("postgres", "format"),
    "psycopg2": ("postgres", "format"),
    "pymysql": ("mysql", "format"),
    "MySQLdb": ("mysql", "format"),
}


def driver_of(conn: Any) -> Tuple[str, str]:
    """``(dialect, paramstyle)`` of a DB-API connection, from its driver's module."""
    root = type(conn).__module__.split(".")[0]
    if root == "_sqlite3":
        root = "sqlite3"
    try:
        return _DRIVERS[root]
    except KeyError:
        from .errors import InvalidArgumentError

        raise InvalidArgumentError(f"unsupported DB-API driver {root!r}; pass dialect= and paramstyle=") from None


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

    def create(self, conn: Any) -> None:
        """Creates the table (and schema) on ``conn`` when missing, and commits."""
        cur = conn.cursor()
        try:
            for sql in self.ddl():
                cur.execute(sql)
            conn.commit()
        finally:
            cur.close()


def _run(machine: Any, cur: Any, table: BarrierTable, style: str) -> str:
    """Drives a barrier state machine on ``cur`` until it is done; its result."""
    while True:
        step = machine.step()
        if step[0] == "done":
            return step[1]
        sql = table._n.render(step[1], style)
        cur.execute(sql, tuple(step[2]))
        if step[0] == "execute":
            machine.feed_affected(max(cur.rowcount, 0))
        else:
            row = cur.fetchone()
            machine.feed_reason(None if row is None else str(row[0]))


class Barrier:
    """The barrier of one branch call; build one per request."""

    def __init__(self, trans_type: str, gid: str, branch_id: str, op: str) -> None:
        self._n = _native.Barrier(trans_type, gid, branch_id, op)

    @classmethod
    def from_branch(cls, branch: BranchRequest) -> "Barrier":
        """The barrier of a parsed branch request."""
        return cls(branch.trans_type, branch.gid, branch.branch_id, branch.op)

    @classmethod
    def from_query_string(cls, query: str) -> "Barrier":
        """The barrier of a raw query string."""
        return cls.from_branch(BranchRequest.from_query_string(query))

    def call(
        self,
        conn: Any,
        busi: Callable[[Any], T],
        *,
        table: Optional[BarrierTable] = None,
        paramstyle: Optional[str] = None,
    ) -> Optional[T]:
        """Runs ``busi(cursor)`` at most once for this branch, in one local transaction
        with the barrier rows, then commits; rolls back and re-raises if anything raises.

        Returns ``busi``'s result, or None when the barrier skipped it (a duplicate, a
        null compensation or a suspended try/action). Raises :class:`DuplicatedError` for
        a msg whose check-back already rolled it back."""
        dialect, style = driver_of(conn) if table is None or paramstyle is None else (table.dialect, paramstyle)
        table = table or BarrierTable(dialect)
        machine = self._n.call(table._n)
        cur = conn.cursor()
        try:
            decision = _run(machine, cur, table, paramstyle or style)
            machine.check()
            result = busi(cur) if decision == "run_business" else None
            conn.commit()
            return result
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.close()

    def redis_check_adjust_amount(self, redis: Any, key: str, amount: int, expire: int = REDIS_EXPIRE) -> str:
        """Adds ``amount`` to the integer at ``key`` at most once for this branch, with a
        redis-py client. Returns ``applied``, ``null_compensation``, ``duplicate`` or
        ``suspended``; raises :class:`FailureError` when the key is missing or the amount
        would go below zero."""
        call = self._n.redis_check_adjust_amount(key, amount, expire)
        reply = redis.eval(call.script, len(call.keys), *call.keys, *call.args)
        return call.decide(_text(reply))


def query_prepared(
    conn: Any, branch: BranchRequest, *, table: Optional[BarrierTable] = None, paramstyle: Optional[str] = None
) -> None:
    """The msg check-back on ``conn``: returns when the local transaction of
    ``branch.gid`` committed, raises :class:`FailureError` when it did not (and now never
    will). Answer dtm with :func:`dtmx.reply` of the outcome."""
    dialect, style = driver_of(conn) if table is None or paramstyle is None else (table.dialect, paramstyle)
    table = table or BarrierTable(dialect)
    machine = _native.Barrier.for_msg(branch.gid).query_prepared(table._n)
    cur = conn.cursor()
    try:
        _run(machine, cur, table, paramstyle or style)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cur.close()
    machine.check()


def redis_query_prepared(redis: Any, branch: BranchRequest, expire: int = REDIS_EXPIRE) -> None:
    """The msg check-back on Redis (for a msg whose local work used
    :meth:`Barrier.redis_check_adjust_amount`): returns or raises as
    :func:`query_prepared`."""
    q = _native.Barrier.for_msg(branch.gid).redis_query_prepared(expire)
    q.check(_text(redis.eval(q.script, len(q.keys), *q.keys, *q.args)))


def _text(reply: Any) -> Optional[str]:
    if reply is None:
        return None
    return reply.decode() if isinstance(reply, bytes) else str(reply)
