"""A real business service for the end-to-end tests, written with dtmx's Flask helpers:
TransOut/TransIn with their compensations, TCC try/confirm/cancel, the msg check-back on
SQLite and XA branches on MariaDB. A payload ``{"fail": "<Step>"}`` makes that step refuse
(409 FAILURE)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any, Callable, Dict, List, Tuple

from flask import Flask, request
from werkzeug.serving import make_server

import dtmx
import dtmx.flask
from dtmx import Barrier, BarrierTable


class Busi:
    """The service, its call log and its SQLite database."""

    def __init__(self, sqlite_path: str, mysql_connect: Callable[[], Any]) -> None:
        self.calls: List[Tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self.sqlite_path = sqlite_path
        self.mysql_connect = mysql_connect
        db = self.sqlite()
        BarrierTable("sqlite").create(db)
        db.execute("create table if not exists account (id text primary key, balance integer)")
        db.commit()
        db.close()
        self.app = self._routes()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/busi"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sqlite(self) -> sqlite3.Connection:
        return sqlite3.connect(self.sqlite_path, timeout=10)

    def called(self, gid: str) -> List[Tuple[str, str]]:
        """The (step, op) calls of ``gid``, in order."""
        with self.lock:
            return [(s, op) for g, s, op in self.calls if g == gid]

    def _routes(self) -> Flask:
        app = Flask("busi")

        def record(step: str) -> Dict[str, Any]:
            b = dtmx.flask.branch_request()
            with self.lock:
                self.calls.append((b.gid, step, b.op))
            body = request.get_json(silent=True) or {}
            if body.get("fail") == step:
                raise dtmx.FailureError(f"{step} refused")
            return body

        for step in ("TransOut", "TransOutRevert", "TransIn", "TransInRevert",
                     "TransOutTry", "TransOutConfirm", "TransOutCancel",
                     "TransInTry", "TransInConfirm", "TransInCancel"):
            app.add_url_rule(f"/api/busi/{step}", step,
                             dtmx.flask.branch(lambda step=step: record(step) and None),
                             methods=["POST"])

        @app.get("/api/busi/QueryPrepared")
        @dtmx.flask.branch
        def query_prepared_view() -> None:
            db = self.sqlite()
            try:
                Barrier.from_branch(dtmx.flask.branch_request()).query_prepared(db)
            finally:
                db.close()

        @app.post("/api/busi/XaTransIn")
        @dtmx.flask.branch
        def xa_trans_in() -> None:
            b = dtmx.flask.branch_request()
            body = request.get_json(silent=True) or {}
            with self.lock:
                self.calls.append((b.gid, "XaTransIn", b.op))
            conn = self.mysql_connect()
            try:
                def busi(cur: Any) -> None:
                    if body.get("fail") == "XaTransIn":
                        raise dtmx.FailureError("XaTransIn refused")
                    cur.execute("update dtmx_py.account set balance = balance + %s where id = %s",
                                (body["amount"], body["account"]))
                dtmx.xa_local(conn, b, busi)
            finally:
                conn.close()

        return app

    def shutdown(self) -> None:
        self.server.shutdown()


def transfer_locally(busi: Busi, account: str, amount: int) -> Callable[[dtmx.Branch], None]:
    """The local work of a msg: the balance update guarded by the msg barrier, on SQLite."""

    def work(branch: dtmx.Branch) -> None:
        db = busi.sqlite()
        try:
            Barrier.from_branch(branch).call(
                db, lambda cur: cur.execute(
                    "insert into account values (?, ?) on conflict(id) do update set balance = balance + ?",
                    (account, amount, amount)))
        finally:
            db.close()

    return work
