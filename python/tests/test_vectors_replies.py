"""Replays every list of tests/vectors/replies.json: how replies map to outcomes and
errors, and how outcomes and handler errors map to replies."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

import dtmx
from dtmx._errors import BY_CODE

from conftest import load_vectors

V = load_vectors("replies.json")
KIND_CLASS = {c.kind: c for c in BY_CODE.values()}


def ids(cases: Any) -> Any:
    return [str(i) for i in range(len(cases))]


@pytest.mark.parametrize("case", V["branch_replies"], ids=ids(V["branch_replies"]))
def test_branch_reply(case: Dict[str, Any]) -> None:
    outcome, message = dtmx.outcome_from_http(case["status"], case["body"].encode())
    assert outcome == case["outcome"]
    if outcome in ("failure", "ongoing"):
        assert message == case.get("message", case["body"])


def check_kind(f: Any, case: Dict[str, Any]) -> None:
    if case["kind"] == "ok":
        f(case["status"], case["body"].encode())
        return
    with pytest.raises(KIND_CLASS[case["kind"]]) as e:
        f(case["status"], case["body"].encode())
    assert isinstance(e.value, dtmx.DtmxError) and e.value.kind == case["kind"]
    if "message" in case:
        assert e.value.message == case["message"]


@pytest.mark.parametrize("case", V["client_branch_replies"], ids=ids(V["client_branch_replies"]))
def test_client_branch_reply(case: Dict[str, Any]) -> None:
    check_kind(dtmx.check_branch_reply, case)


@pytest.mark.parametrize("case", V["server_replies"], ids=ids(V["server_replies"]))
def test_server_reply(case: Dict[str, Any]) -> None:
    check_kind(dtmx.check_server_reply, case)


@pytest.mark.parametrize("case", V["outcome_replies"], ids=ids(V["outcome_replies"]))
def test_outcome_reply(case: Dict[str, Any]) -> None:
    message = case.get("message", "")
    status, body = dtmx.outcome_reply(case["outcome"], message)
    assert status == case["http_status"]
    assert json.loads(body) == case["http_body"]
    assert dtmx.grpc_code(case["outcome"], message) == case["grpc_code"]
    assert dtmx.outcome_from_http(status, body.encode())[0] == case["outcome"]


@pytest.mark.parametrize("case", V["grpc_replies"], ids=ids(V["grpc_replies"]))
def test_grpc_reply(case: Dict[str, Any]) -> None:
    assert dtmx.outcome_from_grpc(case["code"], case["message"])[0] == case["outcome"]


@pytest.mark.parametrize("case", V["error_outcomes"], ids=ids(V["error_outcomes"]))
def test_error_outcome(case: Dict[str, Any]) -> None:
    error = KIND_CLASS[case["kind"]](case["message"])
    assert dtmx.outcome_of_error(error)[0] == case["outcome"]
    status, body = dtmx.reply(error)
    outcome, message = dtmx.outcome_from_http(status, body.encode())
    assert outcome == case["outcome"]
    if outcome in ("failure", "ongoing"):
        assert json.loads(body).get("message", "") == case["message"]


def test_any_other_exception_is_retried() -> None:
    status, body = dtmx.reply(KeyError("FAILURE in the ledger"))
    assert status == 500
    assert dtmx.outcome_from_http(status, body.encode())[0] == "unknown"


@pytest.mark.parametrize("case", V["branch_requests"], ids=ids(V["branch_requests"]))
def test_branch(case: Dict[str, Any]) -> None:
    if "query" in case:
        b = dtmx.Branch.from_query(case["query"])
    else:
        b = dtmx.Branch.from_grpc_metadata(list(case["metadata"].items()))
    have = {k: getattr(b, k) for k in ("gid", "trans_type", "branch_id", "op", "dtm", "phase2_url")}
    assert have == case["branch"]
