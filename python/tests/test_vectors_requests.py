"""Replays every case of tests/vectors/requests.json through the Python API with a
transport that records each request and answers with the case's scripted replies."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import pytest

import dtmx
from dtmx import BarrierTable

from conftest import load_vectors

FILE = load_vectors("requests.json")
CASES = FILE["cases"]


class Recorder:
    """A transport that records requests and plays scripted replies."""

    def __init__(self, case: Dict[str, Any], events: List[Any]) -> None:
        self.replies = {r["url"]: (r["status"], r["body"]) for r in case.get("replies", [])}
        d = FILE["default_reply"]
        self.default = (d["status"], d["body"])
        self.requests: List[Dict[str, Any]] = []
        self.events = events

    def __call__(self, method: str, url: str, headers: List[Tuple[str, str]],
                 body: Optional[bytes], timeout: Optional[float]) -> Tuple[int, bytes]:
        r = request_json(method, url, headers, body)
        self.requests.append(r)
        self.events.append({"request": r})
        status, text = self.replies.get(r["url"], self.default)
        return status, text.encode()


def request_json(method: str, url: str, headers: List[Tuple[str, str]], body: Optional[bytes]) -> Dict[str, Any]:
    path, _, query = url.partition("?")
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode()
    return {"method": method, "url": path, "query": dict(urllib.parse.parse_qsl(query, keep_blank_values=True)),
            "headers": headers, "body": parsed}


def check_request(actual: Dict[str, Any], expected: Dict[str, Any]) -> None:
    assert actual["method"] == expected["method"]
    assert actual["url"] == expected["url"]
    assert actual["query"] == expected.get("query", {})
    for name, value in expected.get("headers", {}).items():
        found = [v for k, v in actual["headers"] if k.lower() == name.lower()]
        assert found and found[-1] == value, name
    assert actual["body"] == expected["body"]
    if isinstance(expected["body"], dict):
        assert list(actual["body"]) == list(expected["body"]), "key order"


def busi_for(name: str, gid: str):
    def busi(branch: dtmx.Branch) -> None:
        assert (branch.trans_type, branch.gid, branch.branch_id, branch.op) == ("msg", gid, "00", "msg")
        if name == "failure":
            raise dtmx.FailureError("business failure FAILURE")
        if name == "ongoing":
            raise dtmx.OngoingError("business ongoing")
        if name == "error":
            raise dtmx.DatabaseError("business error")
    return busi


def run_case(case: Dict[str, Any]) -> Tuple[str, Any, List[Any], List[Any]]:
    events: List[Any] = []
    rec = Recorder(case, events)
    client = dtmx.Client(FILE["dtm"], transport=rec)
    opts = case.get("options", {})
    gid = case.get("gid", "")
    calls = case.get("calls", [])
    value = None
    try:
        kind = case["kind"]
        if kind == "saga":
            saga = client.saga(gid, **opts)
            for c in calls:
                if c["call"] == "add":
                    saga.add(c["action"], c["compensate"], c["payload"])
                elif c["call"] == "add_branch_order":
                    saga.add_branch_order(c["branch"], c["pre_branches"])
                elif c["call"] == "enable_concurrent":
                    saga.enable_concurrent()
                elif c["call"] == "submit":
                    saga.submit()
        elif kind == "msg":
            msg = client.msg(gid, **opts)
            for c in calls:
                name = c["call"]
                if name == "add":
                    msg.add(c["action"], c["payload"])
                elif name == "add_topic":
                    msg.add_topic(c["topic"], c["payload"])
                elif name == "set_delay":
                    msg.set_delay(c["seconds"])
                elif name == "enable_concurrent":
                    msg.enable_concurrent()
                elif name == "prepare":
                    msg.prepare(c["query_prepared"])
                elif name == "submit":
                    msg.submit()
                elif name == "abort":
                    msg.abort()
                elif name == "do_and_submit":
                    msg.do_and_submit(c["query_prepared"], busi_for(c["busi"], gid))
        elif kind in ("tcc", "tcc_nested"):
            def body(tcc: dtmx.Tcc) -> None:
                for c in calls:
                    tcc.call_branch(c["payload"], c["try"], c["confirm"], c["cancel"])
            if kind == "tcc":
                client.tcc(gid, **opts).run(body)
            else:
                branch = dtmx.Branch(**case["branch"])
                body(client.tcc_from_branch(branch, **opts))
        elif kind == "xa":
            def xa_body(xa: dtmx.Xa) -> None:
                for c in calls:
                    xa.call_branch(c["payload"], c["url"])
            client.xa(gid, **opts).run(xa_body)
        elif kind == "xa_local":
            run_xa_local(case, rec, events)
        elif kind == "new_gid":
            value = client.new_gid()
        result = "ok"
    except dtmx.DtmxError as e:
        result = e.kind
    return result, value, rec.requests, events


def run_xa_local(case: Dict[str, Any], rec: Recorder, events: List[Any]) -> None:
    branch = dtmx.Branch(**case["branch"])
    xa = dtmx.XaLocal(branch, BarrierTable(case["dialect"])._n)
    errors = case.get("sql_errors", {})
    while True:
        step = xa.step()
        if step[0] == "execute":
            sql = step[1]
            events.append({"barrier_insert": step[2]} if sql.startswith("insert") else {"sql": sql})
            if sql in errors:
                xa.feed_sql_error(errors[sql])
            else:
                xa.feed_affected(1)
        elif step[0] == "query":
            events.append({"query_reason": step[2]})
            xa.feed_reason(None)
        elif step[0] == "business":
            events.append({"business": True})
            outcome = case.get("business", "ok")
            exc = None if outcome == "ok" else (
                dtmx.FailureError("business failure") if outcome == "failure" else dtmx.DatabaseError("business error"))
            xa.feed_business(exc)
        elif step[0] == "send":
            _, method, url, headers, body = step
            status, reply = rec(method, url, headers, body, None)
            xa.feed_reply(status, reply)
        else:
            break
    xa.finish()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_request_vector(case: Dict[str, Any]) -> None:
    result, value, requests, events = run_case(case)
    assert result == case["result"]
    if "value" in case:
        assert value == case["value"]
    if case["kind"] == "xa_local":
        want = case["events"]
        assert len(events) == len(want), (events, want)
        for have, exp in zip(events, want):
            if "request" in exp:
                check_request(have["request"], exp["request"])
            else:
                assert have == exp
    else:
        assert len(requests) == len(case["requests"]), requests
        for have, exp in zip(requests, case["requests"]):
            check_request(have, exp)
