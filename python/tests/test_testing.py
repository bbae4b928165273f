"""dtmx.testing: the test kit starts a real server, gives its URL, stops it, and says
clearly what is wrong when it cannot."""

from __future__ import annotations

import os
import pathlib
import socket
import stat
import urllib.request
from typing import Any

import pytest

import dtmx
from dtmx.testing import DtmxServer, DtmxServerError

from conftest import server_binary


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` and a server can bind it."""
    with socket.socket() as c:
        c.settimeout(1)
        if c.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def test_starts_answers_and_stops() -> None:
    with DtmxServer(server_binary()) as server:
        assert server.running
        assert server.url == f"http://127.0.0.1:{server.http_port}/api/dtmsvr"
        assert server.grpc_port and server.grpc_port != server.http_port
        directory = server.dir
        assert directory and os.path.exists(os.path.join(directory, "dtmx.db"))
        with urllib.request.urlopen(server.base_url + "/api/ping", timeout=5) as r:
            assert r.status == 200
        # The URL is a dtmx server's: a saga with no steps commits.
        client = dtmx.Client(server.url)
        gid = client.new_gid()
        assert gid
        client.saga(gid, wait_result=True).submit()
        assert client.query(gid)["transaction"]["status"] == "succeed"
        port = server.http_port
    assert not server.running
    assert port_is_free(port)
    assert not os.path.exists(directory)


def test_start_and_stop_without_with() -> None:
    server = DtmxServer(server_binary(), env={"AUTH_SUBMIT_TOKENS": "kit-token-0123456789"}).start()
    try:
        # The env reached the server: a submit without the token is refused.
        with pytest.raises(dtmx.ServerError):
            dtmx.Client(server.url).saga(wait_result=True).submit()
        dtmx.Client(server.url, token="kit-token-0123456789").saga(wait_result=True).submit()
    finally:
        server.stop()
    assert not server.running
    server.stop()  # twice is fine


def test_binary_from_dtmx_bin(monkeypatch: Any) -> None:
    monkeypatch.setenv("DTMX_BIN", str(server_binary()))
    server = DtmxServer()
    assert server.binary == server_binary()


def test_binary_on_path(monkeypatch: Any, tmp_path: pathlib.Path) -> None:
    (tmp_path / "dtmx").symlink_to(server_binary().resolve())
    monkeypatch.delenv("DTMX_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert DtmxServer().binary == tmp_path / "dtmx"


def test_missing_binary_says_how(monkeypatch: Any, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv("DTMX_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DtmxServerError) as e:
        DtmxServer()
    assert "pip install dtmx-server" in str(e.value)
    assert "DTMX_BIN" in str(e.value)

    monkeypatch.setenv("DTMX_BIN", str(tmp_path / "no-such-dtmx"))
    with pytest.raises(DtmxServerError, match="no-such-dtmx.*pip install dtmx-server"):
        DtmxServer()
    with pytest.raises(DtmxServerError, match="nowhere.*pip install dtmx-server"):
        DtmxServer(binary=tmp_path / "nowhere")


def test_server_that_exits_shows_its_output(tmp_path: pathlib.Path) -> None:
    fake = tmp_path / "dtmx"
    fake.write_text("#!/bin/sh\necho 'config: STORE_PATH is bad' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    server = DtmxServer(fake, timeout=10)
    with pytest.raises(DtmxServerError) as e:
        server.start()
    assert "exited with status 3" in str(e.value)
    assert "config: STORE_PATH is bad" in str(e.value)
    assert server.dir is None  # the temporary directory is gone


def test_server_that_never_answers_times_out(tmp_path: pathlib.Path) -> None:
    fake = tmp_path / "dtmx"
    fake.write_text("#!/bin/sh\necho waiting >&2\nexec sleep 60\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    server = DtmxServer(fake, timeout=1)
    with pytest.raises(DtmxServerError, match="did not answer .*/api/ping within 1s"):
        server.start()
    assert not server.running


def test_pytest_plugin_fixture(request: Any, monkeypatch: Any) -> None:
    # The dtmx wheel registers dtmx.testing as a pytest plugin (entry point pytest11).
    assert request.config.pluginmanager.has_plugin("dtmx")
    monkeypatch.setenv("DTMX_BIN", str(server_binary()))
    url = request.getfixturevalue("dtmx_server")
    assert url.endswith("/api/dtmsvr")
    assert dtmx.Client(url).new_gid()
