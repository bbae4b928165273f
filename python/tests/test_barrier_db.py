"""The barrier on real databases through each driver: SQLite (sqlite3), PostgreSQL
(psycopg 3 and psycopg2), MariaDB (PyMySQL), and Redis (redis-py). Each scenario runs the
decisions that matter: first run, duplicate, null compensation, suspended try, rollback with
the business code, and the msg check-back; then who owns the database transaction: the
barrier's own on a connection with none open (autocommit connections too), the caller's
when the driver says one is open or the caller says so (``in_transaction=True``)."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any, Callable, Iterator

import pytest

import dtmx
from dtmx import Barrier, BarrierTable
from conftest import POSTGRES, mysql_connect


def sqlite_conn(tmp_path: Any) -> Callable[[], Any]:
    path = str(tmp_path / "barrier.db")
    return lambda: sqlite3.connect(path)


def pg_conn() -> Any:
    import psycopg

    return psycopg.connect(POSTGRES)


def pg2_conn() -> Any:
    import psycopg2

    return psycopg2.connect(POSTGRES)


@pytest.fixture(params=["sqlite", "postgres", "psycopg2", "mariadb"])
def connect(request: Any, tmp_path: Any) -> Iterator[Callable[[], Any]]:
    """A connection factory of each database, with the barrier table and a ledger (on
    MariaDB in the ``mysql_db`` database, created by its fixture)."""
    if request.param == "mariadb":
        request.getfixturevalue("mysql_db")
    factory = {"sqlite": sqlite_conn(tmp_path), "postgres": pg_conn, "psycopg2": pg2_conn,
               "mariadb": mysql_connect}[request.param]
    conn = factory()
    dialect = {"sqlite": "sqlite", "postgres": "postgres", "psycopg2": "postgres", "mariadb": "mysql"}[request.param]
    BarrierTable(dialect).create(conn)
    cur = conn.cursor()
    cur.execute("create table if not exists dtmx_ledger (gid varchar(64), op varchar(16))"
                if request.param != "mariadb" else
                "create table if not exists dtmx_py.dtmx_ledger (gid varchar(64), op varchar(16))")
    conn.commit()
    conn.close()
    yield factory


def ledger_table(conn: Any) -> str:
    return "dtmx_py.dtmx_ledger" if type(conn).__module__.startswith("pymysql") else "dtmx_ledger"


def placeholder(conn: Any) -> str:
    return "?" if isinstance(conn, sqlite3.Connection) else "%s"


def write(cur: Any, conn: Any, gid: str, op: str) -> None:
    """A ledger row through ``cur`` (on a connection outside a transaction, the driver opens
    one the way it does for any write)."""
    ph = placeholder(conn)
    cur.execute(f"insert into {ledger_table(conn)} values ({ph}, {ph})", (gid, op))


def call(conn: Any, gid: str, op: str, trans_type: str = "tcc", fail: bool = False, **options: Any) -> Any:
    """One branch call on ``conn`` guarded by the barrier; the business code writes a
    ledger row, then returns ``ran`` or raises ``FailureError``."""
    def busi(cur: Any) -> str:
        write(cur, conn, gid, op)
        if fail:
            raise dtmx.FailureError("refused")
        return "ran"

    return Barrier(trans_type, gid, "00" if op == "msg" else "01", op).call(conn, busi, **options)


def run(connect: Callable[[], Any], gid: str, op: str, trans_type: str = "tcc", fail: bool = False) -> Any:
    """One branch call guarded by the barrier on a new connection."""
    conn = connect()
    try:
        return call(conn, gid, op, trans_type, fail)
    finally:
        conn.close()


def ledger(connect: Callable[[], Any], gid: str) -> list:
    """The committed ledger rows of ``gid``, read on a new connection."""
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute(f"select op from {ledger_table(conn)} where gid = {placeholder(conn)}", (gid,))
        ops = sorted(r[0] for r in cur.fetchall())
        conn.commit()
        return ops
    finally:
        conn.close()


def set_autocommit(conn: Any) -> None:
    """Switches ``conn`` to its driver's autocommit mode."""
    if isinstance(conn, sqlite3.Connection):
        conn.isolation_level = None
    elif callable(getattr(conn, "autocommit", None)):  # PyMySQL
        conn.autocommit(True)
    else:  # psycopg 3, psycopg2
        conn.autocommit = True


def test_try_confirm_and_duplicates(connect: Callable[[], Any]) -> None:
    gid = uuid.uuid4().hex
    assert run(connect, gid, "try") == "ran"
    assert run(connect, gid, "try") is None  # duplicate: skipped
    assert run(connect, gid, "confirm") == "ran"
    assert run(connect, gid, "confirm") is None
    assert ledger(connect, gid) == ["confirm", "try"]


def test_null_compensation_and_suspended_try(connect: Callable[[], Any]) -> None:
    gid = uuid.uuid4().hex
    assert run(connect, gid, "cancel") is None  # the try never ran: nothing to undo
    assert run(connect, gid, "try") is None  # the late try is fenced
    assert ledger(connect, gid) == []


def test_failure_rolls_back_the_business_and_the_barrier(connect: Callable[[], Any]) -> None:
    gid = uuid.uuid4().hex
    with pytest.raises(dtmx.FailureError):
        run(connect, gid, "action", "saga", fail=True)
    assert ledger(connect, gid) == []
    assert run(connect, gid, "action", "saga") == "ran"  # the retry runs: no barrier row left
    assert ledger(connect, gid) == ["action"]


def test_msg_check_back(connect: Callable[[], Any]) -> None:
    committed, lost = uuid.uuid4().hex, uuid.uuid4().hex
    assert run(connect, committed, "msg", "msg") == "ran"
    conn = connect()
    try:
        Barrier.for_msg(committed).query_prepared(conn)
        with pytest.raises(dtmx.FailureError, match=f"msg {lost} did not commit"):
            Barrier.for_msg(lost).query_prepared(conn)
    finally:
        conn.close()
    # The check-back fenced the lost one: its late local work now fails as a duplicate.
    with pytest.raises(dtmx.DuplicatedError):
        run(connect, lost, "msg", "msg")
    assert ledger(connect, lost) == []


def test_joins_the_callers_open_transaction(connect: Callable[[], Any]) -> None:
    """The caller wrote first, so the driver says a transaction is open: the barrier joins
    it and commits nothing; the caller's rollback takes the barrier row too (the try runs
    again), the caller's commit keeps everything."""
    gid = uuid.uuid4().hex
    conn = connect()
    try:
        write(conn.cursor(), conn, gid, "caller")
        assert call(conn, gid, "try") == "ran"
        assert ledger(connect, gid) == []
        conn.rollback()
        assert ledger(connect, gid) == []
        write(conn.cursor(), conn, gid, "caller")
        assert call(conn, gid, "try") == "ran"
        assert call(conn, gid, "try") is None  # a duplicate inside the same transaction
        conn.commit()
    finally:
        conn.close()
    assert ledger(connect, gid) == ["caller", "try"]


def test_joined_failure_is_left_to_the_caller(connect: Callable[[], Any]) -> None:
    """In the caller's transaction the business code's error is raised and nothing is
    rolled back: what happens to the transaction is the caller's decision."""
    gid = uuid.uuid4().hex
    conn = connect()
    try:
        write(conn.cursor(), conn, gid, "caller")
        with pytest.raises(dtmx.FailureError, match="refused") as e:
            call(conn, gid, "try", fail=True)
        assert e.value.notes == []
        assert ledger(connect, gid) == []
        conn.commit()
    finally:
        conn.close()
    assert ledger(connect, gid) == ["caller", "try"]
    assert run(connect, gid, "try") is None  # the committed barrier row: a duplicate


def test_in_transaction_says_a_transaction_is_open(connect: Callable[[], Any]) -> None:
    """``in_transaction=True`` on a connection whose driver reports none open (a driver that
    cannot tell): the barrier neither begins nor commits; the driver's own implicit
    transaction holds the rows until the caller commits."""
    gid = uuid.uuid4().hex
    conn = connect()
    try:
        assert call(conn, gid, "try", in_transaction=True) == "ran"
        assert ledger(connect, gid) == []
        conn.commit()
    finally:
        conn.close()
    assert ledger(connect, gid) == ["try"]


def test_autocommit_connections_get_the_barriers_own_transaction(connect: Callable[[], Any]) -> None:
    """On a connection in autocommit mode the barrier begins its own transaction, so a
    failure still rolls back the barrier row and the business code's writes."""
    gid = uuid.uuid4().hex
    conn = connect()
    try:
        set_autocommit(conn)
        with pytest.raises(dtmx.FailureError):
            call(conn, gid, "action", "saga", fail=True)
        assert ledger(connect, gid) == []
        assert call(conn, gid, "action", "saga") == "ran"
        assert call(conn, gid, "action", "saga") is None
    finally:
        conn.close()
    assert ledger(connect, gid) == ["action"]


def test_driver_errors_roll_back_and_are_raised_as_they_are(connect: Callable[[], Any]) -> None:
    """A statement of the business code fails: the driver's own exception is raised (not a
    dtmx error) and the barrier's own transaction is rolled back."""
    gid = uuid.uuid4().hex
    conn = connect()

    def busi(cur: Any) -> None:
        write(cur, conn, gid, "action")
        cur.execute(f"insert into {ledger_table(conn).replace('ledger', 'no_such_table')} values (1)")

    try:
        with pytest.raises(Exception) as e:
            Barrier("saga", gid, "01", "action").call(conn, busi)
        assert not isinstance(e.value, dtmx.DtmxError)
        assert "dtmx_no_such_table" in str(e.value)
    finally:
        conn.close()
    assert ledger(connect, gid) == []
    assert run(connect, gid, "action", "saga") == "ran"  # the barrier row went too


def test_joined_check_back_is_committed_by_the_caller(connect: Callable[[], Any]) -> None:
    """A check-back inside the caller's transaction leaves its fence row to the caller: rolled
    back, the msg's late local work is not a duplicate."""
    gid = uuid.uuid4().hex
    conn = connect()
    try:
        write(conn.cursor(), conn, gid, "caller")
        with pytest.raises(dtmx.FailureError, match=f"msg {gid} did not commit"):
            Barrier.for_msg(gid).query_prepared(conn)
        conn.rollback()
    finally:
        conn.close()
    assert run(connect, gid, "msg", "msg") == "ran"
    assert ledger(connect, gid) == ["msg"]


@pytest.fixture
def redis_client() -> Iterator[Any]:
    import redis

    r = redis.Redis(host="127.0.0.1", port=6379)
    yield r
    r.close()


def test_redis_barrier(redis_client: Any) -> None:
    # Barrier keys are named after the gid: "dtmx-" gids are what scripts/clean-test-databases drops.
    gid = f"dtmx-py-{uuid.uuid4().hex}"
    key = f"dtmx-py:{gid}"
    redis_client.set(key, 100)
    try:
        assert Barrier("saga", gid, "01", "action").redis_check_adjust_amount(redis_client, key, -30) == "applied"
        assert Barrier("saga", gid, "01", "action").redis_check_adjust_amount(redis_client, key, -30) == "duplicate"
        assert Barrier("saga", gid, "01", "compensate").redis_check_adjust_amount(redis_client, key, 30) == "applied"
        assert int(redis_client.get(key)) == 100
        with pytest.raises(dtmx.FailureError):
            Barrier("saga", gid, "02", "action").redis_check_adjust_amount(redis_client, key, -1000)
        assert Barrier("msg", gid, "00", "msg").redis_check_adjust_amount(redis_client, key, 1) == "applied"
        Barrier.for_msg(gid).redis_query_prepared(redis_client)
        lost = f"dtmx-py-{uuid.uuid4().hex}"
        with pytest.raises(dtmx.FailureError, match=f"msg {lost} did not commit"):
            Barrier.for_msg(lost).redis_query_prepared(redis_client)
        # The fence row expires after the core's default (one week, as DTM).
        fence = Barrier.for_msg(lost).redis_query_prepared_call().keys[0]
        assert Barrier.redis_default_expire() == 7 * 24 * 3600
        assert 0 < redis_client.ttl(fence) <= Barrier.redis_default_expire()
        redis_client.delete(fence)
    finally:
        redis_client.delete(key)
