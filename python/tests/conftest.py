"""Shared fixtures: the vectors directory, the real dtmx server, the databases."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, Iterator

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"


def load_vectors(name: str) -> Any:
    """A vectors file of tests/vectors."""
    return json.loads((VECTORS / name).read_text())


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_binary() -> pathlib.Path:
    """The dtmx server: $DTMX_BIN, else target/debug/dtmx, else built with cargo."""
    env = os.environ.get("DTMX_BIN")
    if env:
        return pathlib.Path(env)
    default = REPO / "target" / "debug" / "dtmx"
    if not default.exists():
        subprocess.run(["cargo", "build", "-j2", "-p", "dtmx-server"], cwd=REPO, check=True)
    return default


@contextlib.contextmanager
def start_server(**extra_env: str) -> Iterator[str]:
    """A real dtmx server on a free port with a fresh store and ``extra_env`` (e.g.
    ``AUTH_SUBMIT_TOKENS``): its /api/dtmsvr URL."""
    tmp = tempfile.mkdtemp(prefix="dtmx-py-")
    port = free_port()
    env = dict(os.environ, HTTP_HOST="127.0.0.1", HTTP_PORT=str(port), GRPC_PORT=str(free_port()),
               STORE_PATH=os.path.join(tmp, "dtmx.db"), LOG_LEVEL="warn",
               TRANS_CRON_INTERVAL="1", **extra_env)
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen([str(server_binary())], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/api/ping", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("dtmx server exited: " + open(log.name).read())
                time.sleep(0.1)
        yield base + "/api/dtmsvr"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


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
