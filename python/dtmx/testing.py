"""A real dtmx server for your tests: no docker, no separate install.

``DtmxServer`` starts the ``dtmx`` binary (the one ``pip install dtmx-server`` puts on PATH)
on free loopback ports with a fresh embedded store in a temporary directory, waits until it
answers ``/api/ping``, and stops it (and removes the directory) on exit::

    from dtmx.testing import DtmxServer

    with DtmxServer() as server:
        dtm = dtmx.Client(server.url)      # http://127.0.0.1:<port>/api/dtmsvr

With pytest installed, this module is also a pytest plugin (registered by the ``dtmx``
package): the session fixture ``dtmx_server`` is the URL of one such server.

PYTEST_DONT_REWRITE (this module has no asserts for pytest to rewrite).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, Dict, Iterator, Optional, Union

__all__ = ["DtmxServer", "DtmxServerError", "find_binary", "free_port"]

_HOW = "install it with `pip install dtmx-server`, or set DTMX_BIN to the path of a dtmx binary"


class DtmxServerError(RuntimeError):
    """The server binary is missing, or the server did not start."""


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(binary: Union[str, "os.PathLike[str]", None] = None) -> pathlib.Path:
    """The dtmx server binary: ``binary``, else ``$DTMX_BIN``, else ``dtmx`` on PATH."""
    if binary is None:
        binary = os.environ.get("DTMX_BIN") or None
        source = "DTMX_BIN"
    else:
        source = "binary="
    if binary is not None:
        path = pathlib.Path(binary)
        if not path.is_file():
            raise DtmxServerError(f"dtmx server binary {path} ({source}) not found: {_HOW}")
        return path
    found = shutil.which("dtmx")
    if found is None:
        raise DtmxServerError(f"no dtmx server binary: `dtmx` is not on PATH and DTMX_BIN is unset; {_HOW}")
    return pathlib.Path(found)


class DtmxServer:
    """A real dtmx server on free loopback ports with a fresh embedded store.

    ``binary``: the server binary (default: ``$DTMX_BIN``, else ``dtmx`` on PATH).
    ``env``: extra environment of the server (e.g. ``{"AUTH_SUBMIT_TOKENS": "t"}``).
    ``timeout``: seconds to wait for ``/api/ping``.

    Use it as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(self, binary: Union[str, "os.PathLike[str]", None] = None, *,
                 env: Optional[Dict[str, str]] = None, timeout: float = 30.0) -> None:
        self.binary = find_binary(binary)
        self.env = dict(env or {})
        self.timeout = timeout
        self.http_port = 0
        self.grpc_port = 0
        self.dir: Optional[str] = None
        self._proc: Optional["subprocess.Popen[bytes]"] = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<http_port>``."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def url(self) -> str:
        """The server's ``/api/dtmsvr`` URL, for ``dtmx.Client``."""
        return self.base_url + "/api/dtmsvr"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        if self.dir is None:
            return ""
        try:
            return pathlib.Path(self.dir, "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> "DtmxServer":
        if self._proc is not None:
            raise DtmxServerError("this DtmxServer is already started")
        self.dir = tempfile.mkdtemp(prefix="dtmx-testing-")
        try:
            # A port found free may be taken before the server binds it: a few tries.
            for attempt in range(5):
                if self._launch():
                    return self
                if attempt < 4 and "in use" in self.log().lower():
                    continue
                break
            tail = "\n".join(self.log().splitlines()[-20:])
            if self._proc is not None and self._proc.poll() is None:
                what = f"did not answer {self.base_url}/api/ping within {self.timeout:g}s"
            else:
                code = self._proc.returncode if self._proc is not None else None
                what = f"exited with status {code}"
            raise DtmxServerError(f"dtmx server ({self.binary}) {what}; its output:\n{tail}")
        except BaseException:
            self.stop()
            raise

    def _launch(self) -> bool:
        """Starts the server once; True when it answers /api/ping."""
        self._stop_process()
        assert self.dir is not None
        self.http_port, self.grpc_port = free_port(), free_port()
        env = dict(os.environ, HTTP_HOST="127.0.0.1", HTTP_PORT=str(self.http_port),
                   GRPC_PORT=str(self.grpc_port), STORE_PATH=os.path.join(self.dir, "dtmx.db"),
                   LOG_LEVEL="warn")
        env.update(self.env)
        self._log = open(os.path.join(self.dir, "server.log"), "wb")
        self._proc = subprocess.Popen([str(self.binary)], env=env, stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base_url + "/api/ping", timeout=1) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            if self._proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its directory."""
        self._stop_process()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> "DtmxServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"DtmxServer({str(self.binary)!r}, {state})"


try:
    import pytest
except ImportError:  # pytest is not installed: no plugin
    pass
else:

    @pytest.fixture(scope="session")
    def dtmx_server() -> Iterator[str]:
        """A real dtmx server for the test session (dtmx.testing.DtmxServer): its
        /api/dtmsvr URL."""
        with DtmxServer() as server:
            yield server.url
