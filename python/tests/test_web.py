"""The business-service helpers for Flask, FastAPI, plain WSGI and plain ASGI: the branch
request is parsed and every outcome becomes the status and body dtm reads back as it."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask

import dtmx
import dtmx.asgi
import dtmx.fastapi
import dtmx.flask
import dtmx.wsgi

QUERY = "gid=g1&trans_type=saga&branch_id=01&op=action"
OUTCOMES = [
    ("ok", 200, "success"),
    ("fail", 409, "failure"),
    ("ongoing", 425, "ongoing"),
    ("crash", 500, "unknown"),
]


def behave(what: str) -> Any:
    if what == "fail":
        raise dtmx.FailureError("no money")
    if what == "ongoing":
        raise dtmx.OngoingError("later")
    if what == "crash":
        raise RuntimeError("FAILURE of the disk")  # a crash is retried, never a rollback
    return None


def check(status: int, body: bytes, want_status: int, want_outcome: str) -> None:
    assert status == want_status
    assert dtmx.outcome_from_http(status, body)[0] == want_outcome


@pytest.fixture
def flask_client() -> Any:
    app = Flask("t")

    @app.post("/busi/<what>")
    @dtmx.flask.branch
    def busi(what: str) -> Any:
        b = dtmx.flask.branch_request()
        assert (b.gid, b.op) == ("g1", "action")
        return behave(what)

    @app.post("/data")
    @dtmx.flask.branch
    def data() -> Dict[str, int]:
        return {"balance": 3}

    return app.test_client()


@pytest.mark.parametrize("what,status,outcome", OUTCOMES)
def test_flask(flask_client: Any, what: str, status: int, outcome: str) -> None:
    r = flask_client.post(f"/busi/{what}?{QUERY}")
    check(r.status_code, r.data, status, outcome)
    assert r.content_type == "application/json"


def test_flask_result_as_json(flask_client: Any) -> None:
    assert flask_client.post("/data").get_json() == {"balance": 3}


@pytest.fixture
def fastapi_client() -> Any:
    app = FastAPI()

    @app.post("/busi/{what}")
    @dtmx.fastapi.branch
    async def busi(what: str, b: dtmx.Branch = Depends(dtmx.fastapi.branch_request)) -> Any:
        assert (b.gid, b.trans_type) == ("g1", "saga")
        return behave(what)

    @app.post("/sync/{what}")
    @dtmx.fastapi.branch
    def sync(what: str) -> Any:
        return behave(what)

    return TestClient(app)


@pytest.mark.parametrize("what,status,outcome", OUTCOMES)
def test_fastapi(fastapi_client: Any, what: str, status: int, outcome: str) -> None:
    for path in ("busi", "sync"):
        r = fastapi_client.post(f"/{path}/{what}?{QUERY}")
        check(r.status_code, r.content, status, outcome)


@pytest.mark.parametrize("what,status,outcome", OUTCOMES)
def test_wsgi(what: str, status: int, outcome: str) -> None:
    def app(environ: Dict[str, Any], start_response: Any) -> List[bytes]:
        b = dtmx.wsgi.branch_request(environ)
        assert b.branch_id == "01"
        try:
            behave(what)
        except Exception as e:
            return dtmx.wsgi.respond(start_response, e)
        return dtmx.wsgi.respond(start_response)

    started: List[Any] = []
    body = b"".join(app({"QUERY_STRING": QUERY}, lambda s, h: started.append((s, h))))
    check(int(started[0][0].split()[0]), body, status, outcome)


@pytest.mark.parametrize("what,status,outcome", OUTCOMES)
def test_asgi(what: str, status: int, outcome: str) -> None:
    sent: List[Dict[str, Any]] = []

    async def send(message: Dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Dict[str, Any]) -> None:
        assert dtmx.asgi.branch_request(scope).gid == "g1"
        try:
            behave(what)
        except Exception as e:
            await dtmx.asgi.respond(send, e)
            return
        await dtmx.asgi.respond(send)

    asyncio.run(app({"type": "http", "query_string": QUERY.encode()}))
    check(sent[0]["status"], sent[1]["body"], status, outcome)


def test_reply_bodies() -> None:
    assert dtmx.reply() == (200, '{"dtm_result":"SUCCESS"}')
    status, body = dtmx.reply(dtmx.FailureError("no money"))
    assert (status, json.loads(body)) == (409, {"dtm_result": "FAILURE", "message": "no money"})
