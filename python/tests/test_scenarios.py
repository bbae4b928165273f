"""Replays every scenario of tests/vectors/scenarios (see the README there) through the
public Python API against the scripted server and judge ``judge.py``: once with the
blocking calls, once with their asyncio twins (``submit_async``, ``run_async``,
``do_and_submit_async``, ``call_branch_async``). The barrier scenarios (those with a
``database``) drive ``dtmx.Barrier`` (``call`` and ``query_prepared``, which have no asyncio
twins) on a real SQLite database through sqlite3. The Rust replays are
bindings/tests/scenarios.rs and core/tests/barrier_scenarios.rs."""

from __future__ import annotations

import asyncio
import json
import pathlib
import sqlite3
import subprocess
import sys
import urllib.request
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional

import pytest

import dtmx
from dtmx import Barrier, BarrierTable
from dtmx._errors import BY_CODE

from conftest import VECTORS

SCENARIOS_DIR = VECTORS / "scenarios"
SCENARIOS: Dict[str, Dict[str, Any]] = {
    s["name"]: s
    for path in sorted(SCENARIOS_DIR.glob("*.json"))
    for s in json.loads(path.read_text())["scenarios"]
}
#: The scenarios of the TM side, replayed with the blocking calls and with asyncio.
TM_SCENARIOS = sorted(name for name, s in SCENARIOS.items() if "database" not in s)
CLASS_OF_KIND = {cls.kind: cls for cls in BY_CODE.values()}


class Judge:
    """judge.py's control routes."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, route: str, body: Any) -> Any:
        req = urllib.request.Request(self.url + route, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as reply:
            return json.loads(reply.read())


@pytest.fixture(scope="session")
def judge() -> Iterator[Judge]:
    """judge.py, started once; it stops when its standard input closes."""
    proc = subprocess.Popen([sys.executable, str(SCENARIOS_DIR / "judge.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield Judge(json.loads(proc.stdout.readline())["url"])
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def substitute(value: Any, urls: Dict[str, str]) -> Any:
    """``value`` with ``{dtm}``, ``{branch}`` and ``{closed}`` replaced by the URLs."""
    if isinstance(value, str):
        for key in ("dtm", "branch", "closed"):
            value = value.replace("{" + key + "}", urls[key])
        return value
    if isinstance(value, list):
        return [substitute(v, urls) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, urls) for k, v in value.items()}
    return value


def payload(value: Any) -> Any:
    """A step's payload as a user passes it (``$unserializable``: an ``object()``)."""
    if isinstance(value, dict) and value.get("$unserializable"):
        return object()
    return value


class Replay:
    """One scenario's steps; ``raised`` is the exception a body step raised."""

    def __init__(self, scenario: Dict[str, Any], urls: Dict[str, str]) -> None:
        self.scenario = scenario
        server = urls["closed"] if scenario.get("client", {}).get("server") == "closed" else urls["dtm"]
        self.client = dtmx.Client(server)
        self.raised: Optional[BaseException] = None

    def start(self) -> Any:
        t = self.scenario["transaction"]
        return getattr(self.client, t["type"])(t["gid"], **t["options"])

    def end(self, step: Dict[str, Any]) -> Any:
        """A body's last step: the value it returns, or the error it raises."""
        if step["op"] == "return":
            return step["value"]
        assert step["op"] == "raise", step
        kind, message = step["kind"], step["message"]
        self.raised = RuntimeError(message) if kind == "host" else CLASS_OF_KIND[kind](message)
        raise self.raised

    def body(self, steps: List[Dict[str, Any]], call: Callable[[Dict[str, Any]], Any]) -> Any:
        for step in steps:
            if step["op"] == "call_branch":
                call(step)
            else:
                return self.end(step)
        return None

    async def body_async(self, steps: List[Dict[str, Any]],
                         call: Callable[[Dict[str, Any]], Awaitable[Any]]) -> Any:
        for step in steps:
            if step["op"] == "call_branch":
                await call(step)
            else:
                return self.end(step)
        return None

    def run(self) -> Any:
        """The blocking replay: the outcome's value (an error is raised)."""
        trans = self.start()
        out = None
        for step in self.scenario["steps"]:
            op = step["op"]
            if op == "add":
                args = [step["action"]] + ([step["compensate"]] if isinstance(trans, dtmx.Saga) else [])
                trans.add(*args, payload(step["payload"]))
            elif op == "submit":
                trans.submit()
            elif op == "do_and_submit":
                out = trans.do_and_submit(step["query_prepared"],
                                          lambda _branch: self.body(step["body"], lambda s: None))
            elif isinstance(trans, dtmx.Tcc):
                def tcc_body(t: dtmx.Tcc) -> Any:
                    assert t is trans
                    return self.body(step["body"], lambda s: t.call_branch(
                        payload(s["payload"]), s["try"], s["confirm"], s["cancel"]))

                out = trans.run(tcc_body)
            else:
                def xa_body(x: dtmx.Xa) -> Any:
                    assert x is trans
                    return self.body(step["body"], lambda s: x.call_branch(payload(s["payload"]), s["url"]))

                out = trans.run(xa_body)
        return out

    async def run_async(self) -> Any:
        """The asyncio replay."""
        trans = self.start()
        out = None
        for step in self.scenario["steps"]:
            op = step["op"]
            steps = step.get("body", [])
            if op == "add":
                args = [step["action"]] + ([step["compensate"]] if isinstance(trans, dtmx.Saga) else [])
                trans.add(*args, payload(step["payload"]))
            elif op == "submit":
                await trans.submit_async()
            elif op == "do_and_submit":
                async def local_work(_branch: dtmx.Branch) -> Any:
                    return await self.body_async(steps, lambda s: asyncio.sleep(0))

                out = await trans.do_and_submit_async(step["query_prepared"], local_work)
            elif isinstance(trans, dtmx.Tcc):
                async def tcc_body(t: dtmx.Tcc) -> Any:
                    assert t is trans
                    return await self.body_async(steps, lambda s: t.call_branch_async(
                        payload(s["payload"]), s["try"], s["confirm"], s["cancel"]))

                out = await trans.run_async(tcc_body)
            else:
                async def xa_body(x: dtmx.Xa) -> Any:
                    assert x is trans
                    return await self.body_async(steps, lambda s: x.call_branch_async(
                        payload(s["payload"]), s["url"]))

                out = await trans.run_async(xa_body)
        return out


def error_json(e: BaseException) -> Dict[str, Any]:
    """The error as the judge reads it."""
    if isinstance(e, dtmx.DtmxError):
        return {"kind": e.kind, "class": type(e).__name__, "message": e.message, "notes": e.notes,
                "status": e.status}
    return {"kind": "host", "class": type(e).__name__, "message": str(e),
            "notes": list(getattr(e, "__notes__", [])), "status": None}


def replay(judge: Judge, name: str, use_async: bool) -> None:
    urls = judge.post("/__scenario", {"name": name})
    r = Replay(substitute(SCENARIOS[name], urls), urls)
    error: Optional[BaseException] = None
    result = None
    try:
        result = asyncio.run(r.run_async()) if use_async else r.run()
    except dtmx.DtmxError as e:
        error = e
    except RuntimeError as e:
        if e is not r.raised:
            raise
        error = e
    if r.raised is not None:
        assert error is r.raised, "the body's own exception object is raised"
    outcome = {"host": "python", "result": result, "error": None if error is None else error_json(error)}
    verdict = judge.post("/__outcome", outcome)
    assert verdict["ok"], verdict["problems"]


class BarrierReplay:
    """One barrier scenario's steps on ONE sqlite3 connection to the database at ``path``."""

    def __init__(self, path: pathlib.Path) -> None:
        self.conn = sqlite3.connect(path, timeout=10)
        self.conn.execute("pragma journal_mode=wal")
        BarrierTable("sqlite").create(self.conn)
        self.conn.execute("create table ledger (gid text, value text)")
        self.conn.commit()
        self.raised: Optional[BaseException] = None

    def body(self, gid: str, steps: List[Dict[str, Any]]) -> Callable[[Any], Any]:
        """The business code of a body: its writes through the cursor it is given, then
        its return or raise."""

        def busi(cur: Any) -> Any:
            for step in steps:
                if step["op"] == "write":
                    cur.execute("insert into ledger (gid, value) values (?, ?)", (gid, step["value"]))
                    continue
                if step["op"] == "return":
                    return step["value"]
                assert step["op"] == "raise", step
                kind, message = step["kind"], step["message"]
                self.raised = RuntimeError(message) if kind == "host" else CLASS_OF_KIND[kind](message)
                raise self.raised
            return None

        return busi

    def step(self, step: Dict[str, Any]) -> Any:
        """One step through the public API: its value (an error is raised)."""
        op = step["op"]
        if op == "begin":
            self.conn.execute("BEGIN")
        elif op == "commit":
            self.conn.commit()
        elif op == "rollback":
            self.conn.rollback()
        elif op == "check_back":
            Barrier.for_msg(step["gid"]).query_prepared(self.conn)
        else:
            assert op == "barrier_call", step
            b = step["barrier"]
            barrier = Barrier(b["trans_type"], b["gid"], b["branch_id"], b["op"])
            return barrier.call(self.conn, self.body(b["gid"], step["body"]))
        return None

    def outcome(self, step: Dict[str, Any]) -> Dict[str, Any]:
        """A step's outcome as the judge reads it: its result or its error."""
        self.raised = None
        try:
            return {"result": self.step(step)}
        except (dtmx.DtmxError, RuntimeError) as e:
            if isinstance(e, RuntimeError) and e is not self.raised:
                raise
            if self.raised is not None:
                assert e is self.raised, "the business code's own exception object is raised"
            return {"error": error_json(e)}


def replay_barrier(judge: Judge, name: str, directory: pathlib.Path) -> None:
    judge.post("/__scenario", {"name": name})
    scenario = SCENARIOS[name]
    assert scenario["database"] == "sqlite"
    path = directory / f"{name}.db"
    r = BarrierReplay(path)
    outcomes = [r.outcome(step) for step in scenario["steps"]]
    in_transaction = r.conn.in_transaction
    # What is committed, read on a second connection while the first one's transaction (if
    # any) is still open.
    other = sqlite3.connect(path, timeout=10)
    try:
        ledger = sorted(f"{gid} {value}" for gid, value in other.execute("select gid, value from ledger"))
        rows = sorted(list(row) for row in other.execute(
            "select trans_type, gid, branch_id, op, barrier_id, reason from barrier"))
    finally:
        other.close()
        if r.conn.in_transaction:
            r.conn.rollback()
        r.conn.close()
    verdict = judge.post("/__outcome", {"host": "python", "outcomes": outcomes, "ledger": ledger,
                                        "barrier_rows": rows, "in_transaction": in_transaction})
    assert verdict["ok"], verdict["problems"]


def test_every_scenario_is_here() -> None:
    assert len(SCENARIOS) >= 30
    assert {p.stem for p in SCENARIOS_DIR.glob("*.json")} >= {"run", "msg", "wait_result", "invalid_input", "barrier"}
    assert len(SCENARIOS) - len(TM_SCENARIOS) >= 10


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(judge: Judge, name: str, tmp_path: pathlib.Path) -> None:
    if "database" in SCENARIOS[name]:
        replay_barrier(judge, name, tmp_path)
    else:
        replay(judge, name, use_async=False)


@pytest.mark.parametrize("name", TM_SCENARIOS)
def test_scenario_async(judge: Judge, name: str) -> None:
    replay(judge, name, use_async=True)
