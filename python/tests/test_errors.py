"""Exception mapping: every core error kind arrives as its dtmx.DtmxError subclass, from
validation, the transport, the server and custom transports; and the fork refusal."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import pytest

import dtmx
from dtmx import _native
from dtmx._errors import BY_CODE


def test_error_table_matches_the_classes() -> None:
    table = _native.error_table()
    assert [code for code, _, _ in table] == sorted(BY_CODE)
    for code, kind, class_name in table:
        cls = BY_CODE[code]
        assert (cls.__name__, cls.kind, cls.code) == (class_name, kind, code)
        assert issubclass(cls, dtmx.DtmxError)
        assert getattr(dtmx, class_name) is cls


def test_python_bases() -> None:
    assert issubclass(dtmx.InvalidArgumentError, ValueError)
    assert issubclass(dtmx.TransportError, ConnectionError)
    assert issubclass(dtmx.TimeoutError, TimeoutError)


@pytest.mark.parametrize("server", ["", "localhost:36789", "ftp://dtm/api", "http://"])
def test_invalid_server(server: str) -> None:
    with pytest.raises(dtmx.InvalidArgumentError):
        dtmx.Client(server)


@pytest.mark.parametrize("options", [{"timeout_to_fail": -1}, {"colour": "red"},
                                     {"branch_headers": {"bad name": "x"}},
                                     {"branch_headers": {"x": "a\r\nb"}}])
def test_invalid_options(options: Any) -> None:
    with pytest.raises(dtmx.InvalidArgumentError):
        dtmx.Client("http://127.0.0.1:1/api/dtmsvr").saga("g", **options)


@pytest.mark.parametrize("options, message", [
    ({"wait_reslt": True}, 'unknown option "wait_reslt"'),
    ({"retry_limit": "3"}, 'option "retry_limit" must be an integer, got "3"'),
    ({"retry_limit": True}, 'option "retry_limit" must be an integer, got true'),
    ({"wait_result": 1}, 'option "wait_result" must be a boolean, got 1'),
    ({"retry_limit": {1, 2}}, 'option "retry_limit" must be an integer, got ["{1, 2}"]'),
    ({"retry_limit": float("nan")}, 'option "retry_limit" must be an integer, got ["nan"]'),
    ({"retry_limit": 2 ** 70}, f'option "retry_limit" must be an integer, got ["{2 ** 70}"]'),
    ({"branch_headers": {"X": b"1"}}, 'option "branch_headers" must be an object of strings, got {"X":["b\'1\'"]}'),
    ({"branch_headers": {1: "x"}}, 'option "branch_headers" must be an object of strings, got ["{1: \'x\'}"]'),
])
def test_options_read_by_the_core(options: Any, message: str) -> None:
    """The core's option reader reports every mistake, a value with no JSON form as one of
    the wrong type."""
    with pytest.raises(dtmx.InvalidArgumentError) as e:
        dtmx.Client("http://127.0.0.1:1/api/dtmsvr").saga("g", **options)
    assert e.value.message == message


def test_options_reach_the_transaction() -> None:
    requests = []

    def record(method: str, url: str, headers: Any, body: Any, timeout: Any) -> Any:
        requests.append(json.loads(body))
        return 200, b'{"dtm_result":"SUCCESS"}'

    c = dtmx.Client("http://dtm/api", transport=record)
    c.saga("g", retry_limit=3, wait_result=None, branch_headers={"X-A": "1"}).add("http://a", "", "{}").submit()
    assert requests[0]["retry_limit"] == 3 and requests[0]["branch_headers"] == {"X-A": "1"}
    assert "wait_result" not in requests[0]  # None keeps the default


def test_invalid_payload() -> None:
    saga = dtmx.Client("http://127.0.0.1:1/api/dtmsvr").saga("g")
    saga.add("http://a", "http://b", b"\xff\xfe")
    with pytest.raises(dtmx.InvalidArgumentError, match="^invalid payload .*UTF-8"):
        saga.submit()


@pytest.mark.parametrize("payload", [object(), {"x": float("nan")}, [float("inf")], {1j}])
def test_payload_json_cannot_encode(payload: Any) -> None:
    saga = dtmx.Client("http://127.0.0.1:1/api/dtmsvr").saga("g")
    with pytest.raises(dtmx.InvalidArgumentError) as e:
        saga.add("http://a", "http://b", payload)
    assert e.value.message.startswith("invalid payload: ")
    assert e.value.message == _native.invalid_payload(str(e.value.__cause__)).message


def test_notes_and_status() -> None:
    e = dtmx.UnfinishedError("g is not finished", notes=["query failed: x"], status="submitted")
    assert (e.kind, e.code, e.notes, e.status) == ("unfinished", 10, ["query failed: x"], "submitted")
    assert getattr(e, "__notes__", None) == ["query failed: x"]
    plain = dtmx.FailureError("no")
    assert (plain.notes, plain.status) == ([], None)


def test_host_exception_gets_the_notes() -> None:
    """A host exception raised by a body is re-raised itself, the core's notes attached the
    standard way; here the abort after it fails."""
    def dtm(method: str, url: str, headers: Any, body: Any, timeout: Any) -> Any:
        return (500, b"store down") if url.endswith("/abort") else (200, b'{"dtm_result":"SUCCESS"}')

    mine = KeyError("lost")

    def body(tcc: dtmx.Tcc) -> None:
        raise mine

    with pytest.raises(KeyError) as e:
        dtmx.Client("http://dtm/api", transport=dtm).tcc("g").run(body)
    assert e.value is mine
    assert getattr(e.value, "__notes__", None) == ["abort failed: server: store down"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_transport_error_blocking_and_async() -> None:
    c = dtmx.Client(f"http://127.0.0.1:{closed_port()}/api/dtmsvr")
    with pytest.raises(dtmx.TransportError) as e:
        c.saga("g").add("http://a", "", "{}").submit()
    assert e.value.kind == "transport" and e.value.code == 2
    with pytest.raises(dtmx.TransportError):
        asyncio.run(c.new_gid_async())


def test_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        c = dtmx.Client(f"http://127.0.0.1:{silent.getsockname()[1]}/api/dtmsvr")
        with pytest.raises(dtmx.TimeoutError):
            c.saga("g", request_timeout=1).add("http://a", "", "{}").submit()


def test_server_error(dtm_server: str) -> None:
    c = dtmx.Client(dtm_server + "/no-such-route")
    with pytest.raises(dtmx.ServerError):
        c.saga("g").add("http://a", "", "{}").submit()


def test_custom_transport_errors() -> None:
    def broken(*_: Any) -> Any:
        raise OSError("cable cut")

    with pytest.raises(dtmx.TransportError, match="cable cut"):
        dtmx.Client("http://dtm/api", transport=broken).new_gid()

    def slow(*_: Any) -> Any:
        raise dtmx.TimeoutError("too slow")

    with pytest.raises(dtmx.TimeoutError, match="too slow"):
        dtmx.Client("http://dtm/api", transport=slow).new_gid()

    def refusing(*_: Any) -> Any:
        return 409, b'{"dtm_result":"FAILURE","message":"no"}'

    with pytest.raises(dtmx.FailureError):
        dtmx.Client("http://dtm/api", transport=refusing).saga("g").submit()


def test_refuses_to_run_after_fork(dtm_server: str) -> None:
    client = dtmx.Client(dtm_server)
    assert client.new_gid()  # the runtime now exists in this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what dtmx did, never return into pytest
        try:
            client.new_gid()
            os.write(write, b"ran")
        except dtmx.InternalError as e:
            os.write(write, ("refused: " + e.message).encode())
        except BaseException as e:  # noqa: B902
            os.write(write, repr(e).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    report = os.read(read, 4096).decode()
    os.close(read)
    assert report.startswith("refused: "), report
    assert "fork" in report
    assert client.new_gid()  # the parent is unaffected


def test_blocking_calls_release_the_gil() -> None:
    """While one thread waits in a blocking call, Python code in another keeps running."""
    import threading
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        c = dtmx.Client(f"http://127.0.0.1:{silent.getsockname()[1]}/api/dtmsvr")
        ticks = 0
        done = threading.Event()

        def count() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                time.sleep(0.01)

        counter = threading.Thread(target=count)
        counter.start()
        try:
            with pytest.raises(dtmx.TimeoutError):
                c.saga("g", request_timeout=1).add("http://a", "", "{}").submit()
        finally:
            done.set()
            counter.join()
        assert ticks > 20  # about 100 in the second the call waited
