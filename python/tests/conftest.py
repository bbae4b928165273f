"""Shared fixtures: the vectors directory, the real dtmx server, the databases."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
from typing import Any, Iterator

import pytest

from dtmx import testing

REPO = pathlib.Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"


def load_vectors(name: str) -> Any:
    """A vectors file of tests/vectors."""
    return json.loads((VECTORS / name).read_text())


def free_port() -> int:
    """A free loopback port."""
    return testing.free_port()


def server_binary() -> pathlib.Path:
    """The dtmx server: $DTMX_BIN (scripts/test sets it), else target/debug/dtmx of this
    checkout (built with cargo when missing)."""
    env = os.environ.get("DTMX_BIN")
    if env:
        return pathlib.Path(env)
    default = REPO / "target" / "debug" / "dtmx"
    if not default.exists():
        subprocess.run(["cargo", "build", "-j2", "-p", "dtmx-server"], cwd=REPO, check=True)
    return default


@contextlib.contextmanager
def start_server(**extra_env: str) -> Iterator[str]:
    """A real dtmx server (the package's test kit, dtmx.testing.DtmxServer) on free ports
    with a fresh store and ``extra_env`` (e.g. ``AUTH_SUBMIT_TOKENS``): its /api/dtmsvr
    URL."""
    with testing.DtmxServer(server_binary(), env=dict(TRANS_CRON_INTERVAL="1", **extra_env)) as server:
        yield server.url


@pytest.fixture(scope="session")
def dtm_server() -> Iterator[str]:
    """A real dtmx server on a free port with a fresh store: its /api/dtmsvr URL."""
    with start_server() as url:
        yield url


MYSQL = dict(host="127.0.0.1", port=3306, user="root", password="")
POSTGRES = "host=127.0.0.1 port=5432 user=postgres password=mysecretpassword"


def mysql_connect(database: Any = None) -> Any:
    """A PyMySQL connection to the local MariaDB."""
    import pymysql

    return pymysql.connect(**MYSQL, database=database, autocommit=False)


@pytest.fixture(scope="session")
def mysql_db() -> str:
    """The MariaDB database the tests write their own tables to, created when missing."""
    conn = mysql_connect()
    with conn.cursor() as cur:
        cur.execute("create database if not exists dtmx_py")
    conn.commit()
    conn.close()
    return "dtmx_py"


@pytest.fixture(scope="session")
def busi(tmp_path_factory: Any, mysql_db: str) -> Iterator[Any]:
    """The real business service of busi.py on a free port."""
    from busi import Busi

    conn = mysql_connect()
    with conn.cursor() as cur:
        cur.execute(f"create table if not exists {mysql_db}.account (id varchar(32) primary key, balance int)")
    conn.commit()
    conn.close()
    service = Busi(str(tmp_path_factory.mktemp("busi") / "busi.db"), mysql_connect)
    yield service
    service.shutdown()


@pytest.fixture(scope="session")
def client(dtm_server: str) -> Any:
    """A dtmx client of the real server."""
    import dtmx

    return dtmx.Client(dtm_server)
