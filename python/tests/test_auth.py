"""A server with authentication on (AUTH_SUBMIT_TOKENS): without a token, or with an
unknown one, the server refuses (HTTP 401, ServerError), and a metrics token lacks the
submit scope (HTTP 403, ServerError); with ``Client(token=...)`` the
saga succeeds; a malformed token is refused before any request."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, List, Optional, Tuple

import pytest

import dtmx
from conftest import start_server

TOKEN = "py-submit-token-0123456789"
METRICS_TOKEN = "py-metrics-token-0123456789"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[str]:
    with start_server(AUTH_SUBMIT_TOKENS=TOKEN, AUTH_METRICS_TOKENS=METRICS_TOKEN) as url:
        yield url


class _Branch(BaseHTTPRequestHandler):
    calls: List[Tuple[str, Optional[str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Branch.calls.append((self.path.split("?")[0], self.headers.get("Authorization")))
        body = b'{"dtm_result":"SUCCESS"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def branch_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Branch)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def saga(client: dtmx.Client, url: str) -> Any:
    return client.saga(wait_result=True).add(url + "/TransOut", url + "/TransOutRevert", {"amount": 30})


def test_without_token_the_server_refuses(auth_server: str, branch_url: str) -> None:
    client = dtmx.Client(auth_server)
    with pytest.raises(dtmx.ServerError) as e:
        saga(client, branch_url).submit()
    assert e.value.kind == "server"
    with pytest.raises(dtmx.ServerError):
        client.new_gid()


def test_unknown_token_is_refused(auth_server: str, branch_url: str) -> None:
    client = dtmx.Client(auth_server, token="not-a-known-token-0123456789")
    with pytest.raises(dtmx.ServerError):
        saga(client, branch_url).submit()


def test_token_without_the_scope_is_refused(auth_server: str, branch_url: str) -> None:
    # HTTP 403: also a ServerError, with the server's message.
    client = dtmx.Client(auth_server, token=METRICS_TOKEN)
    with pytest.raises(dtmx.ServerError, match="submit"):
        saga(client, branch_url).submit()


def test_with_token_the_saga_succeeds(auth_server: str, branch_url: str) -> None:
    client = dtmx.Client(auth_server, token=TOKEN)
    s = saga(client, branch_url)
    s.submit()
    assert client.wait_final(s.gid) == "succeed"
    assert client.query(s.gid)["transaction"]["status"] == "succeed"
    assert len(client.new_gid()) > 0
    # Branch calls come from the server and never carry the client's token.
    assert ("/TransOut", None) in _Branch.calls


def test_with_token_async(auth_server: str, branch_url: str) -> None:
    client = dtmx.Client(auth_server, token=TOKEN)

    async def main() -> str:
        gid = await client.new_gid_async()
        s = client.saga(gid, wait_result=True).add(branch_url + "/TransOut", branch_url + "/TransOutRevert", {})
        await s.submit_async()
        return await client.wait_final_async(gid)

    assert asyncio.run(main()) == "succeed"


def test_custom_transport_gets_the_header(auth_server: str) -> None:
    seen: List[List[Tuple[str, str]]] = []

    def transport(method: str, url: str, headers: List[Tuple[str, str]], body: Optional[bytes],
                  timeout: Optional[float]) -> Tuple[int, bytes]:
        seen.append(headers)
        return 200, b'{"gid":"g-from-transport","dtm_result":"SUCCESS"}'

    client = dtmx.Client(auth_server, transport=transport, token=TOKEN)
    assert client.new_gid() == "g-from-transport"
    assert ("Authorization", "Bearer " + TOKEN) in [(k.title(), v) for k, v in seen[0]]


@pytest.mark.parametrize("bad", ["", "a b", "tok\n", "tok\r\nX-Evil: 1", "\ttok", "tok\x00"])
def test_malformed_tokens_are_invalid(auth_server: str, bad: str) -> None:
    with pytest.raises(dtmx.InvalidArgumentError, match="token"):
        dtmx.Client(auth_server, token=bad)
