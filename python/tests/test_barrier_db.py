"""The barrier on real databases through each driver: SQLite (sqlite3), PostgreSQL
(psycopg 3), MariaDB (PyMySQL), and Redis (redis-py). Each scenario runs the decisions that
matter: first run, duplicate, null compensation, suspended try, rollback with the business
code, and the msg check-back."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any, Callable, Iterator

import pytest

import dtmx
from dtmx import _native
from dtmx.barrier import REDIS_EXPIRE, Barrier, BarrierTable, query_prepared, redis_query_prepared
from conftest import POSTGRES, mysql_connect


def sqlite_conn(tmp_path: Any) -> Callable[[], Any]:
    path = str(tmp_path / "barrier.db")
    return lambda: sqlite3.connect(path)


def pg_conn() -> Any:
    import psycopg

    return psycopg.connect(POSTGRES)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def connect(request: Any, tmp_path: Any) -> Iterator[Callable[[], Any]]:
    """A connection factory of each database, with the barrier table and a ledger (on
    MariaDB in the ``mysql_db`` database, created by its fixture)."""
    if request.param == "mariadb":
        request.getfixturevalue("mysql_db")
    factory = {"sqlite": sqlite_conn(tmp_path), "postgres": pg_conn, "mariadb": mysql_connect}[request.param]
    conn = factory()
    dialect = {"sqlite": "sqlite", "postgres": "postgres", "mariadb": "mysql"}[request.param]
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


def run(connect: Callable[[], Any], gid: str, op: str, trans_type: str = "tcc", fail: bool = False) -> Any:
    """One branch call guarded by the barrier; the business code writes a ledger row."""
    conn = connect()
    try:
        def busi(cur: Any) -> str:
            ph = "?" if isinstance(conn, sqlite3.Connection) else "%s"
            cur.execute(f"insert into {ledger_table(conn)} values ({ph}, {ph})", (gid, op))
            if fail:
                raise dtmx.FailureError("refused")
            return "ran"

        return Barrier(trans_type, gid, "00" if op == "msg" else "01", op).call(conn, busi)
    finally:
        conn.close()


def ledger(connect: Callable[[], Any], gid: str) -> list:
    conn = connect()
    try:
        cur = conn.cursor()
        ph = "?" if isinstance(conn, sqlite3.Connection) else "%s"
        cur.execute(f"select op from {ledger_table(conn)} where gid = {ph}", (gid,))
        ops = sorted(r[0] for r in cur.fetchall())
        conn.commit()
        return ops
    finally:
        conn.close()


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
        query_prepared(conn, dtmx.BranchRequest(gid=committed))
        with pytest.raises(dtmx.FailureError, match=f"msg {lost} did not commit"):
            query_prepared(conn, dtmx.BranchRequest(gid=lost))
    finally:
        conn.close()
    # The check-back fenced the lost one: its late local work now fails as a duplicate.
    with pytest.raises(dtmx.DuplicatedError):
        run(connect, lost, "msg", "msg")
    assert ledger(connect, lost) == []


@pytest.fixture
def redis_client() -> Iterator[Any]:
    import redis

    r = redis.Redis(host="127.0.0.1", port=6379)
    yield r
    r.close()


def test_redis_barrier(redis_client: Any) -> None:
    gid = uuid.uuid4().hex
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
        redis_query_prepared(redis_client, dtmx.BranchRequest(gid=gid))
        lost = uuid.uuid4().hex
        with pytest.raises(dtmx.FailureError, match=f"msg {lost} did not commit"):
            redis_query_prepared(redis_client, dtmx.BranchRequest(gid=lost))
        # The fence row expires after the core's default (one week, as DTM).
        fence = _native.Barrier.for_msg(lost).redis_query_prepared(REDIS_EXPIRE).keys[0]
        assert REDIS_EXPIRE == 7 * 24 * 3600
        assert 0 < redis_client.ttl(fence) <= REDIS_EXPIRE
        redis_client.delete(fence)
    finally:
        redis_client.delete(key)
