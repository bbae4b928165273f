"""Replays every barrier*.json vectors file against dtmx.Barrier, dtmx.BarrierTable and their
sans-IO machines (and the native guard around a call)."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest

import dtmx
from dtmx import _native
from dtmx import Barrier, BarrierTable
from dtmx._errors import BY_CODE

from conftest import VECTORS, load_vectors

FILES = sorted(p.name for p in VECTORS.glob("barrier*.json"))
KIND_CLASS = {c.kind: c for c in BY_CODE.values()}


def section(name: str) -> List[Tuple[str, Dict[str, Any], Any]]:
    out = []
    for f in FILES:
        data = load_vectors(f)
        for i, case in enumerate(data.get(name, [])):
            out.append((f"{f}:{name}:{case.get('name', i) if isinstance(case, dict) else case}", case, data))
    return out


def params(name: str) -> Any:
    cases = section(name)
    return pytest.mark.parametrize("case,data", [(c, d) for _, c, d in cases], ids=[i for i, _, _ in cases])


def barrier(b: Dict[str, str]) -> Any:
    return Barrier(b["trans_type"], b["gid"], b["branch_id"], b["op"])


def default_table(data: Any, dialect: str) -> Dict[str, Any]:
    return next(t for t in data["tables"] if t["dialect"] == dialect and t["table"] is None)


def replay(current: Any, machine: Any, steps: List[Dict[str, Any]], table: Dict[str, Any]) -> Any:
    """Feeds ``steps`` to ``machine`` (a call, a check-back or a guard), checking each
    statement ``current()`` asks for; what ``current()`` says after the last one."""
    for s in steps:
        kind, sql, ps = current()
        want = "execute" if s["run"] == "insert_ignore" else "query"
        assert kind == want
        assert sql == table[s["run"]]
        assert ps == s["params"]
        if kind == "execute":
            machine.feed_affected(s["affected"])
        else:
            machine.feed_reason(s["reason"])
    return current()


@params("dialects")
def test_dialect(case: Dict[str, Any], data: Any) -> None:
    for name in [case["name"], *case["aliases"]]:
        assert BarrierTable(name).dialect == case["name"]


@params("invalid_dialects")
def test_invalid_dialect(case: str, data: Any) -> None:
    with pytest.raises(dtmx.InvalidArgumentError):
        BarrierTable(case)


@params("tables")
def test_table(case: Dict[str, Any], data: Any) -> None:
    t = BarrierTable(case["dialect"], case["table"])
    assert t.name == case["name"]
    assert t.insert_ignore_sql() == case["insert_ignore"]
    assert t.select_reason_sql() == case["select_reason"]
    assert t.ddl() == case["ddl"]


@params("invalid_table_names")
def test_invalid_table_name(case: str, data: Any) -> None:
    for d in ("mysql", "postgres", "sqlite"):
        with pytest.raises(dtmx.InvalidArgumentError):
            BarrierTable(d, case)


@params("construction")
def test_construction(case: Dict[str, Any], data: Any) -> None:
    def build() -> Any:
        if "fields" in case:
            return barrier(case["fields"])
        if "query" in case:
            return Barrier.from_query_pairs([tuple(p) for p in case["query"]])
        return Barrier.from_grpc_metadata([tuple(p) for p in case["grpc_metadata"]])

    if "expect" in case:
        b = build()
        assert {k: getattr(b, k) for k in case["expect"]} == case["expect"]
    else:
        with pytest.raises(KIND_CLASS[case["error_kind"]]) as e:
            build()
        assert e.value.message.startswith(case["error_prefix"])


def each_dialect(data: Any) -> List[str]:
    return sorted({t["dialect"] for t in data["tables"]})


@params("calls")
def test_call(case: Dict[str, Any], data: Any) -> None:
    for dialect in each_dialect(data):
        b = barrier(case["barrier"])
        for _ in range(case.get("call_index", 1) - 1):
            b.next_barrier_id()
        call = b.call_machine(BarrierTable(dialect, None))
        # The same call carried out by the core's guard, in the caller's transaction.
        guard = _native.Guard(call, _native.Ownership.Join)
        table = default_table(data, dialect)
        assert replay(call.step, call, case["steps"], table) == ("done", case["decision"])
        end = replay(guard.action, guard, case["steps"], table)
        assert guard.decision == case["decision"]
        if case.get("error_kind"):
            assert end[0] == "raise" and isinstance(end[1], KIND_CLASS[case["error_kind"]]), end
        elif case["decision"] == "run_business":
            assert end == ("business",)
        else:
            assert end == ("return", case["decision"])


@params("query_prepared")
def test_query_prepared(case: Dict[str, Any], data: Any) -> None:
    for dialect in each_dialect(data):
        q = barrier(case["barrier"]).query_prepared_machine(BarrierTable(dialect, None))
        table = default_table(data, dialect)
        if "result" in case:
            assert replay(q.step, q, case["steps"], table) == ("done", case["result"])
        else:
            with pytest.raises(KIND_CLASS[case["error_kind"]]):
                replay(q.step, q, case["steps"], table)


@params("xa")
def test_xa(case: Dict[str, Any], data: Any) -> None:
    for dialect in each_dialect(data):
        b = barrier(case["barrier"])
        t = BarrierTable(dialect, None)
        table = default_table(data, dialect)
        if case["kind"] == "action":
            call = b.xa_action_machine(t)
            assert replay(call.step, call, case["steps"], table) == ("done", case["decision"])
        else:
            sql, ps = b.xa_rollback_fence(t)
            assert sql == table[case["statement"]["run"]]
            assert ps == case["statement"]["params"]


@params("redis_check_adjust_amount")
def test_redis_adjust(case: Dict[str, Any], data: Any) -> None:
    b = barrier(case["barrier"])
    for _ in range(case.get("call_index", 1) - 1):
        b.next_barrier_id()
    if case.get("keys") is None:
        with pytest.raises(KIND_CLASS[case["error_kind"]]):
            b.redis_check_adjust_amount_call(case["key"], case["amount"], case["expire"])
        return
    call = b.redis_check_adjust_amount_call(case["key"], case["amount"], case["expire"])
    assert call.keys == case["keys"] and call.args == case["args"]
    if "decision" in case:
        assert call.decide(case["reply"]) == case["decision"]
    else:
        with pytest.raises(KIND_CLASS[case["error_kind"]]):
            call.decide(case["reply"])


@params("redis_query_prepared")
def test_redis_query_prepared(case: Dict[str, Any], data: Any) -> None:
    b = barrier(case["barrier"])
    if case.get("keys") is None:
        with pytest.raises(KIND_CLASS[case["error_kind"]]):
            b.redis_query_prepared_call(case["expire"])
        return
    q = b.redis_query_prepared_call(case["expire"])
    assert q.keys == case["keys"] and q.args == case["args"]
    if "result" in case:
        assert q.decide(case["reply"]) == case["result"]
    else:
        with pytest.raises(KIND_CLASS[case["error_kind"]]):
            q.decide(case["reply"])
