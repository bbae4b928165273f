#!/usr/bin/env python3
"""The scripted DTM server, branch service and judge of the scenario vectors.

Every package replays tests/vectors/scenarios/*.json against one instance of this server
(see README.md beside it). Start it, read the first line it prints on stdout
(``{"url": "http://127.0.0.1:PORT"}``), then for each scenario:

1. ``POST /__scenario`` with ``{"name": NAME}``: loads the scenario, forgets the requests of
   the previous one, and answers the URLs to substitute: ``{"dtm": ..., "branch": ...,
   "closed": ...}`` (``closed`` is a DTM URL on a port where nothing listens).
2. Run the scenario's steps through the package's public API, the client on ``dtm`` (or
   ``closed`` when the scenario's ``client.server`` says so).
3. ``POST /__outcome`` with ``{"host": NAME, "result": VALUE, "error": null or {"kind",
   "message", "notes", "status", "class"}}``: the judge compares the requests it received
   and the outcome with the scenario's expectations and answers ``{"ok": bool,
   "problems": [...]}``.

Every other request is recorded and answered with the scenario's next scripted reply for
its route (``METHOD /path``), or by default 200 ``{"dtm_result":"SUCCESS"}``. The server
stops when its standard input closes, so a test harness that dies takes it along.
"""

from __future__ import annotations

import json
import pathlib
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_BODY = '{"dtm_result":"SUCCESS"}'
ERROR_KEYS = ("kind", "message", "message_starts", "message_contains", "notes", "status", "class")


def load_scenarios() -> Dict[str, Dict[str, Any]]:
    """Every scenario of every file beside this one, by name."""
    out: Dict[str, Dict[str, Any]] = {}
    for path in sorted(HERE.glob("*.json")):
        for s in json.loads(path.read_text())["scenarios"]:
            if s["name"] in out:
                raise SystemExit(f"duplicate scenario name {s['name']!r} in {path.name}")
            out[s["name"]] = s
    return out


def closed_port() -> int:
    """A loopback port where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class State:
    """The scenario being replayed, its remaining replies and the requests received."""

    def __init__(self) -> None:
        self.scenarios = load_scenarios()
        self.lock = threading.Lock()
        self.current: Optional[Dict[str, Any]] = None
        self.replies: List[Dict[str, Any]] = []
        self.requests: List[Dict[str, Any]] = []
        self.base = ""
        self.closed = f"http://127.0.0.1:{closed_port()}"

    def urls(self) -> Dict[str, str]:
        return {"dtm": self.base + "/api/dtmsvr", "branch": self.base + "/busi",
                "closed": self.closed + "/api/dtmsvr"}

    def substitute(self, value: Any) -> Any:
        """``value`` with ``{dtm}``, ``{branch}`` and ``{closed}`` replaced by the URLs."""
        if isinstance(value, str):
            for k, v in self.urls().items():
                value = value.replace("{" + k + "}", v)
            return value
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        return value


def subset_problems(want: Any, got: Any, where: str) -> List[str]:
    """Where ``got`` differs from ``want``: objects need the wanted keys (others may be
    there), everything else must be equal."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where}: want an object {json.dumps(want)}, got {json.dumps(got)}"]
        out: List[str] = []
        for k, v in want.items():
            if k not in got:
                out.append(f"{where}.{k}: missing (want {json.dumps(v)})")
            else:
                out.extend(subset_problems(v, got[k], f"{where}.{k}"))
        return out
    if want != got:
        return [f"{where}: want {json.dumps(want)}, got {json.dumps(got)}"]
    return []


def judge(state: State, outcome: Dict[str, Any]) -> List[str]:
    """What is wrong with the requests received and ``outcome``."""
    s = state.current
    if s is None:
        return ["no scenario loaded"]
    expect = state.substitute(s["expect"])
    problems: List[str] = []
    got_routes = [r["route"] for r in state.requests]
    want_requests = expect.get("requests", [])
    want_routes = [r["route"] for r in want_requests]
    if got_routes != want_routes:
        problems.append(f"requests: want {want_routes}, got {got_routes}")
    else:
        for i, (w, g) in enumerate(zip(want_requests, state.requests)):
            for part in ("query", "json", "headers"):
                if part in w:
                    problems.extend(subset_problems(w[part], g.get(part), f"request {i} ({w['route']}) {part}"))
    host = outcome.get("host", "")
    if "outcomes" in expect:
        return problems + database_problems(expect, outcome, host)
    error = outcome.get("error")
    want_error = expect.get("error")
    if want_error is not None:
        want_error = {**want_error, **want_error.get("by_host", {}).get(host, {})}
        if error is None:
            problems.append(f"want an error {json.dumps(want_error)}, got result {json.dumps(outcome.get('result'))}")
        else:
            problems.extend(error_problems(want_error, error))
    else:
        if error is not None:
            problems.append(f"want result {json.dumps(expect.get('result'))}, got error {json.dumps(error)}")
        elif outcome.get("result") != expect.get("result"):
            problems.append(f"result: want {json.dumps(expect.get('result'))}, got {json.dumps(outcome.get('result'))}")
    return problems


def database_problems(expect: Dict[str, Any], outcome: Dict[str, Any], host: str) -> List[str]:
    """What differs in a barrier scenario: each step's outcome, then the database."""
    problems: List[str] = []
    got_outcomes = outcome.get("outcomes") or []
    want_outcomes = expect["outcomes"]
    if len(got_outcomes) != len(want_outcomes):
        return [f"outcomes: want {len(want_outcomes)}, got {len(got_outcomes)}: {json.dumps(got_outcomes)}"]
    for i, (w, g) in enumerate(zip(want_outcomes, got_outcomes)):
        if "error" in w:
            want_error = {**w["error"], **w["error"].get("by_host", {}).get(host, {})}
            if g.get("error") is None:
                problems.append(f"step {i}: want an error {json.dumps(want_error)}, got result {json.dumps(g.get('result'))}")
            else:
                problems.extend(f"step {i}: {p}" for p in error_problems(want_error, g["error"]))
        elif g.get("error") is not None:
            problems.append(f"step {i}: want result {json.dumps(w.get('result'))}, got error {json.dumps(g['error'])}")
        elif g.get("result") != w.get("result"):
            problems.append(f"step {i}: result: want {json.dumps(w.get('result'))}, got {json.dumps(g.get('result'))}")
    for key in ("ledger", "barrier_rows", "in_transaction"):
        if key in expect and outcome.get(key) != expect[key]:
            problems.append(f"{key}: want {json.dumps(expect[key])}, got {json.dumps(outcome.get(key))}")
    return problems


def error_problems(want: Dict[str, Any], got: Dict[str, Any]) -> List[str]:
    problems = []
    message = got.get("message") or ""
    for key in ERROR_KEYS:
        if key not in want:
            continue
        w = want[key]
        if key == "message_starts":
            if not message.startswith(w):
                problems.append(f"error message: want it to start with {w!r}, got {message!r}")
        elif key == "message_contains":
            if w not in message:
                problems.append(f"error message: want it to contain {w!r}, got {message!r}")
        elif key == "notes":
            if (got.get("notes") or []) != w:
                problems.append(f"error notes: want {w}, got {got.get('notes')}")
        elif got.get(key) != w:
            problems.append(f"error {key}: want {w!r}, got {got.get(key)!r}")
    return problems


class Handler(BaseHTTPRequestHandler):
    state: State
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def reply(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        st = self.state
        if url.path == "/__scenario":
            name = json.loads(raw)["name"]
            with st.lock:
                if name not in st.scenarios:
                    return self.reply(404, json.dumps({"error": f"no scenario {name!r}"}))
                st.current = st.scenarios[name]
                st.replies = [dict(r) for r in st.substitute(st.current.get("replies", []))]
                st.requests = []
                return self.reply(200, json.dumps(st.urls()))
        if url.path == "/__outcome":
            with st.lock:
                problems = judge(st, json.loads(raw))
            return self.reply(200, json.dumps({"ok": not problems, "problems": problems}))
        route = f"{self.command} {url.path}"
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with st.lock:
            st.requests.append({
                "route": route,
                "query": dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
                "json": body,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            })
            scripted = next((r for r in st.replies if r["route"] == route), None)
            if scripted is not None:
                st.replies.remove(scripted)
        if scripted is None:
            return self.reply(200, DEFAULT_BODY)
        body_out = scripted.get("body", "")
        if not isinstance(body_out, str):
            body_out = json.dumps(body_out)
        self.reply(scripted.get("status", 200), body_out)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def main() -> None:
    state = State()
    Handler.state = state
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"url": state.base}), flush=True)
    sys.stdin.read()  # until the harness closes it (or dies)
    server.shutdown()


if __name__ == "__main__":
    main()
