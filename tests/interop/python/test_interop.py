"""Interoperability tests: DTM's official Python SDK (``dtmcli`` on PyPI)
talking to the dtmx server.

The dtmx binary comes from env ``DTMX_BIN`` (default
``../../../target/debug/dtmx`` relative to this directory). It is started on
free loopback ports with a temporary store; a stdlib business service runs in
a thread. Outcomes are checked through ``GET /api/dtmsvr/query`` and through
the calls the business service recorded.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from dtmcli import msg as dtm_msg
from dtmcli import saga as dtm_saga
from dtmcli import tcc as dtm_tcc
from dtmcli import utils as dtm_utils

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# business service


class Busi:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []
        self.query_prepared = {}  # gid -> "SUCCESS" / "FAILURE" / "ONGOING"

    def calls_for(self, gid):
        with self.lock:
            return [c for c in self.calls if c["gid"] == gid]

    def set_query_prepared(self, gid, result):
        with self.lock:
            self.query_prepared[gid] = result


def make_handler(busi):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _reply(self, result):
            code = {"SUCCESS": 200, "FAILURE": 409, "ONGOING": 425}[result]
            body = json.dumps({"dtm_result": result}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self):
            parsed = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(parsed.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            name = parsed.path.rsplit("/", 1)[-1]
            call = {
                "path": name,
                "method": self.command,
                "gid": q.get("gid", [""])[0],
                "trans_type": q.get("trans_type", [""])[0],
                "branch_id": q.get("branch_id", [""])[0],
                "op": q.get("op", [""])[0],
                "body": body.decode("utf-8", "replace"),
                "content_type": self.headers.get("Content-Type", ""),
            }
            with busi.lock:
                busi.calls.append(call)
                qp = busi.query_prepared.get(call["gid"], "SUCCESS")
            if not parsed.path.startswith("/api/busi/"):
                self.send_error(404)
                return
            if name in ("TransOut", "TransOutRevert", "TransInRevert"):
                self._reply("SUCCESS")
            elif name == "TransIn":
                result = "SUCCESS"
                try:
                    result = json.loads(body).get("transInResult") or "SUCCESS"
                except Exception:
                    pass
                self._reply(result)
            elif name == "QueryPrepared":
                self._reply(qp)
            elif name.endswith("Try"):  # tcc try: body field tryResult decides
                result = "SUCCESS"
                try:
                    result = json.loads(body).get("tryResult") or "SUCCESS"
                except Exception:
                    pass
                self._reply(result)
            elif name.endswith("Confirm") or name.endswith("Cancel"):
                self._reply("SUCCESS")
            else:
                self.send_error(404)

        do_GET = _handle
        do_POST = _handle

    return Handler


# ---------------------------------------------------------------------------
# fixtures


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def busi():
    b = Busi()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(b))
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    b.url = "http://127.0.0.1:%d/api/busi" % srv.server_address[1]
    yield b
    srv.shutdown()
    srv.server_close()


class Server:
    pass


@pytest.fixture(scope="session")
def dtmx(request):
    env_bin = os.environ.get("DTMX_BIN")
    bin_path = env_bin or os.path.join(HERE, "..", "..", "..", "target", "debug", "dtmx")
    bin_path = os.path.abspath(bin_path)
    if not os.path.exists(bin_path):
        if not env_bin:
            pytest.skip("DTMX_BIN not set and default binary %s missing" % bin_path)
        pytest.fail("DTMX_BIN=%s does not exist" % bin_path)

    tmp = tempfile.mkdtemp(prefix="dtmx-interop-py-")
    http_port = free_port()
    grpc_port = free_port()
    while grpc_port == http_port:
        grpc_port = free_port()
    env = dict(os.environ)
    env.update(
        HTTP_PORT=str(http_port),
        GRPC_PORT=str(grpc_port),
        STORE_PATH=os.path.join(tmp, "dtmx.db"),
        LOG_LEVEL="warn",
        TRANS_CRON_INTERVAL="1",
    )
    log_path = os.path.join(tmp, "dtmx.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([bin_path], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)

    def read_log():
        with open(log_path, "rb") as f:
            return f.read()[-20000:].decode("utf-8", "replace")

    base = "http://127.0.0.1:%d" % http_port
    deadline = time.time() + 20
    ready = False
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            last = "dtmx exited with code %s" % proc.returncode
            break
        try:
            r = requests.get(base + "/api/ping", timeout=1)
            if r.status_code == 200:
                ready = True
                break
            last = "status %d" % r.status_code
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.2)
    if not ready:
        proc.kill()
        proc.wait()
        log.close()
        text = read_log()
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail("dtmx did not become ready: %s\n--- dtmx log ---\n%s" % (last, text))

    s = Server()
    s.dtm = base + "/api/dtmsvr"
    s.read_log = read_log
    yield s

    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    if request.session.testsfailed:
        sys.__stderr__.write("\n--- dtmx log (tail) ---\n%s\n" % read_log())
    shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# helpers


def query(dtmx, gid):
    r = requests.get(dtmx.dtm + "/query", params={"gid": gid}, timeout=5)
    assert r.status_code == 200, "query?gid=%s -> %d %s" % (gid, r.status_code, r.text)
    res = r.json()
    assert res.get("transaction") is not None, "query?gid=%s: no transaction: %s" % (gid, r.text)
    return res


def wait_status(dtmx, gid, want, timeout=15):
    deadline = time.time() + timeout
    while True:
        res = query(dtmx, gid)
        st = res["transaction"].get("status")
        if st == want:
            return res
        assert st not in ("succeed", "failed"), "gid %s: status %r, want %r: %s" % (gid, st, want, res)
        assert time.time() < deadline, "gid %s: status still %r after %ss, want %r: %s" % (
            gid, st, timeout, want, res)
        time.sleep(0.25)


def branches(res):
    out = []
    for b in res.get("branches") or []:
        out.append({
            "branch_id": b.get("branch_id"),
            "op": b.get("op"),
            "status": b.get("status"),
            "url": b.get("url"),
            "data": base64.b64decode(b.get("bin_data") or "").decode("utf-8"),
        })
    return out


def expect_branches(res, ids, ops, statuses, urls, payloads):
    bs = branches(res)
    assert [b["branch_id"] for b in bs] == ids, res
    assert [b["op"] for b in bs] == ops, res
    assert [b["status"] for b in bs] == statuses, res
    assert [b["url"] for b in bs] == urls, res
    assert [b["data"] for b in bs] == payloads, res


def expect_calls(busi, gid, trans_type, want):
    """want: list of (path, method, branch_id, op, body) in call order."""
    got = busi.calls_for(gid)
    summary = [(c["path"], c["method"], c["branch_id"], c["op"], c["body"]) for c in got]
    assert summary == want, "business calls for %s:\n got %r\nwant %r" % (gid, summary, want)
    for c in got:
        assert c["trans_type"] == trans_type, c
        if c["body"]:
            assert "application/json" in c["content_type"], c


def new_gid(dtmx):
    gid = dtm_utils.gen_gid(dtmx.dtm)
    assert isinstance(gid, str) and gid
    return gid


# ---------------------------------------------------------------------------
# saga


def test_saga_succeed(dtmx, busi):
    gid = new_gid(dtmx)
    out = {"amount": 30, "from": "alice", "note": "ünïcode & <chars> \"quoted\""}
    inn = {"amount": 30, "to": "bob"}
    s = dtm_saga.Saga(dtmx.dtm, gid)
    s.add(out, busi.url + "/TransOut", busi.url + "/TransOutRevert")
    s.add(inn, busi.url + "/TransIn", busi.url + "/TransInRevert")
    s.trans_base.wait_result = True  # the SDK has no setter for saga
    s.submit()

    p_out, p_in = json.dumps(out), json.dumps(inn)
    res = query(dtmx, gid)
    tr = res["transaction"]
    assert tr["gid"] == gid and tr["trans_type"] == "saga" and tr["status"] == "succeed", res
    # SQL-backed stores do not keep steps/payloads on the global row; when
    # they are returned they must be the SDK's text
    if "payloads" in tr:
        assert tr["payloads"] == [p_out, p_in], res
    assert tr.get("finish_time"), res
    expect_branches(
        res,
        ["01", "01", "02", "02"],
        ["compensate", "action", "compensate", "action"],
        ["prepared", "succeed", "prepared", "succeed"],
        [busi.url + "/TransOutRevert", busi.url + "/TransOut", busi.url + "/TransInRevert", busi.url + "/TransIn"],
        [p_out, p_out, p_in, p_in],
    )
    expect_calls(busi, gid, "saga", [
        ("TransOut", "POST", "01", "action", p_out),
        ("TransIn", "POST", "02", "action", p_in),
    ])


def test_saga_compensate(dtmx, busi):
    gid = new_gid(dtmx)
    out = {"amount": 30, "from": "alice"}
    inn = {"amount": 30, "to": "bob", "transInResult": "FAILURE"}
    s = dtm_saga.Saga(dtmx.dtm, gid)
    s.add(out, busi.url + "/TransOut", busi.url + "/TransOutRevert")
    s.add(inn, busi.url + "/TransIn", busi.url + "/TransInRevert")
    s.trans_base.wait_result = True
    # wait_result on a saga that ends compensated is reported as 409 FAILURE
    with pytest.raises(dtm_utils.DTMFailureError):
        s.submit()

    p_out, p_in = json.dumps(out), json.dumps(inn)
    res = query(dtmx, gid)
    tr = res["transaction"]
    assert tr["status"] == "failed", res
    assert tr.get("rollback_reason"), res
    assert tr.get("rollback_time"), res
    expect_branches(
        res,
        ["01", "01", "02", "02"],
        ["compensate", "action", "compensate", "action"],
        ["succeed", "succeed", "succeed", "failed"],
        [busi.url + "/TransOutRevert", busi.url + "/TransOut", busi.url + "/TransInRevert", busi.url + "/TransIn"],
        [p_out, p_out, p_in, p_in],
    )
    expect_calls(busi, gid, "saga", [
        ("TransOut", "POST", "01", "action", p_out),
        ("TransIn", "POST", "02", "action", p_in),
        ("TransInRevert", "POST", "02", "compensate", p_in),
        ("TransOutRevert", "POST", "01", "compensate", p_out),
    ])


def test_saga_async_submit(dtmx, busi):
    """Default (wait_result false): submit returns at once, the server
    finishes the saga in the background."""
    gid = new_gid(dtmx)
    out = {"amount": 5, "from": "x"}
    s = dtm_saga.Saga(dtmx.dtm, gid)
    s.add(out, busi.url + "/TransOut", busi.url + "/TransOutRevert")
    s.submit()
    res = wait_status(dtmx, gid, "succeed")
    p_out = json.dumps(out)
    expect_branches(res, ["01", "01"], ["compensate", "action"], ["prepared", "succeed"],
                    [busi.url + "/TransOutRevert", busi.url + "/TransOut"], [p_out, p_out])
    expect_calls(busi, gid, "saga", [("TransOut", "POST", "01", "action", p_out)])


# ---------------------------------------------------------------------------
# msg


def test_msg_prepare_submit(dtmx, busi):
    gid = new_gid(dtmx)
    out = {"amount": 45, "from": "carol"}
    inn = {"amount": 45, "to": "dave"}
    m = dtm_msg.Msg(dtmx.dtm, gid)
    m.add(out, busi.url + "/TransOut")
    m.add(inn, busi.url + "/TransIn")
    m.prepare(busi.url + "/QueryPrepared")

    p_out, p_in = json.dumps(out), json.dumps(inn)
    res = query(dtmx, gid)
    tr = res["transaction"]
    assert tr["status"] == "prepared" and tr["trans_type"] == "msg", res
    assert tr.get("query_prepared") == busi.url + "/QueryPrepared", res
    expect_branches(res, ["01", "02"], ["action", "action"], ["prepared", "prepared"],
                    [busi.url + "/TransOut", busi.url + "/TransIn"], [p_out, p_in])
    assert busi.calls_for(gid) == []

    m.submit()
    res = wait_status(dtmx, gid, "succeed")
    expect_branches(res, ["01", "02"], ["action", "action"], ["succeed", "succeed"],
                    [busi.url + "/TransOut", busi.url + "/TransIn"], [p_out, p_in])
    expect_calls(busi, gid, "msg", [
        ("TransOut", "POST", "01", "action", p_out),
        ("TransIn", "POST", "02", "action", p_in),
    ])


def test_msg_do_and_submit_wait_result(dtmx, busi):
    gid = new_gid(dtmx)
    inn = {"amount": 7, "to": "erin"}
    m = dtm_msg.Msg(dtmx.dtm, gid)
    m.add(inn, busi.url + "/TransIn")
    m.set_wait_result()
    seen = []

    def local_work(bb):
        seen.append((bb.gid, bb.branch_id, bb.op))
        assert query(dtmx, gid)["transaction"]["status"] == "prepared"

    m.do_and_submit(busi.url + "/QueryPrepared", local_work)
    assert seen == [(gid, "00", "msg")]
    # wait_result: the message is finished when submit returns
    res = query(dtmx, gid)
    assert res["transaction"]["status"] == "succeed", res
    p_in = json.dumps(inn)
    expect_branches(res, ["01"], ["action"], ["succeed"], [busi.url + "/TransIn"], [p_in])
    expect_calls(busi, gid, "msg", [("TransIn", "POST", "01", "action", p_in)])


def test_msg_do_and_submit_abort(dtmx, busi):
    gid = new_gid(dtmx)
    m = dtm_msg.Msg(dtmx.dtm, gid)
    m.add({"amount": 8}, busi.url + "/TransIn")

    def local_work(bb):
        raise dtm_utils.DTMFailureError("local work failed")

    with pytest.raises(dtm_utils.DTMFailureError):
        m.do_and_submit(busi.url + "/QueryPrepared", local_work)
    res = query(dtmx, gid)
    assert res["transaction"]["status"] == "failed", res
    time.sleep(0.5)
    expect_calls(busi, gid, "msg", [])


@pytest.mark.parametrize("answer,want", [("SUCCESS", "succeed"), ("FAILURE", "failed")])
def test_msg_check_back(dtmx, busi, answer, want):
    """A prepared message that is never submitted is resolved by the server
    through query_prepared once it times out (timeout_to_fail = 1 s)."""
    gid = new_gid(dtmx)
    busi.set_query_prepared(gid, answer)
    inn = {"amount": 9, "to": "grace"}
    m = dtm_msg.Msg(dtmx.dtm, gid)
    m.add(inn, busi.url + "/TransIn")
    m.trans_base.timeout_to_fail = 1
    m.prepare(busi.url + "/QueryPrepared")
    res = wait_status(dtmx, gid, want)

    calls = busi.calls_for(gid)
    assert calls and calls[0]["path"] == "QueryPrepared", calls
    c = calls[0]
    assert (c["method"], c["branch_id"], c["op"], c["trans_type"], c["body"]) == ("GET", "00", "msg", "msg", ""), c
    rest = [c for c in calls[1:] if c["path"] != "QueryPrepared"]
    p_in = json.dumps(inn)
    if want == "succeed":
        expect_branches(res, ["01"], ["action"], ["succeed"], [busi.url + "/TransIn"], [p_in])
        assert [(c["path"], c["branch_id"], c["op"], c["body"]) for c in rest] == [("TransIn", "01", "action", p_in)]
    else:
        assert rest == []


# ---------------------------------------------------------------------------
# tcc


def tcc_urls(busi, name):
    return busi.url + "/" + name + "Try", busi.url + "/" + name + "Confirm", busi.url + "/" + name + "Cancel"


def test_tcc_succeed(dtmx, busi):
    gid = new_gid(dtmx)
    out = {"amount": 30, "account": "alice", "note": "ünïcode"}
    inn = {"amount": 30, "account": "bob"}

    def busi_calls(tcc):
        tcc.call_branch(out, *tcc_urls(busi, "TransOut"))
        tcc.call_branch(inn, *tcc_urls(busi, "TransIn"))

    assert dtm_tcc.tcc_global_transaction(dtmx.dtm, gid, busi_calls) == gid
    # the SDK submits without wait_result: confirms run in the background
    res = wait_status(dtmx, gid, "succeed")
    assert res["transaction"]["trans_type"] == "tcc", res
    assert res["transaction"].get("finish_time"), res
    p_out, p_in = json.dumps(out), json.dumps(inn)
    expect_branches(
        res,
        ["01", "01", "02", "02"],
        ["cancel", "confirm", "cancel", "confirm"],
        ["prepared", "succeed", "prepared", "succeed"],
        [busi.url + "/TransOutCancel", busi.url + "/TransOutConfirm", busi.url + "/TransInCancel", busi.url + "/TransInConfirm"],
        [p_out, p_out, p_in, p_in],
    )
    # tries by the SDK in order, confirms by the server last registered first
    expect_calls(busi, gid, "tcc", [
        ("TransOutTry", "POST", "01", "try", p_out),
        ("TransInTry", "POST", "02", "try", p_in),
        ("TransInConfirm", "POST", "02", "confirm", p_in),
        ("TransOutConfirm", "POST", "01", "confirm", p_out),
    ])


def test_tcc_rollback(dtmx, busi):
    gid = new_gid(dtmx)
    out = {"amount": 40, "account": "carol"}
    inn = {"amount": 40, "account": "dave", "tryResult": "FAILURE"}

    def busi_calls(tcc):
        tcc.call_branch(out, *tcc_urls(busi, "TransOut"))
        tcc.call_branch(inn, *tcc_urls(busi, "TransIn"))  # 409: raises, SDK aborts

    # the SDK swallows the error, aborts, and returns "" instead of the gid
    assert dtm_tcc.tcc_global_transaction(dtmx.dtm, gid, busi_calls) == ""
    res = wait_status(dtmx, gid, "failed")
    assert res["transaction"].get("rollback_time"), res
    p_out, p_in = json.dumps(out), json.dumps(inn)
    expect_branches(
        res,
        ["01", "01", "02", "02"],
        ["cancel", "confirm", "cancel", "confirm"],
        ["succeed", "prepared", "succeed", "prepared"],
        [busi.url + "/TransOutCancel", busi.url + "/TransOutConfirm", busi.url + "/TransInCancel", busi.url + "/TransInConfirm"],
        [p_out, p_out, p_in, p_in],
    )
    expect_calls(busi, gid, "tcc", [
        ("TransOutTry", "POST", "01", "try", p_out),
        ("TransInTry", "POST", "02", "try", p_in),
        ("TransInCancel", "POST", "02", "cancel", p_in),
        ("TransOutCancel", "POST", "01", "cancel", p_out),
    ])
