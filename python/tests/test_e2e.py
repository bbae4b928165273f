"""End to end against the real dtmx server and the real business service of busi.py:
saga, msg do_and_submit, TCC and XA, success and rollback, blocking and asyncio."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import dtmx
from busi import transfer_locally
from conftest import mysql_connect

AMOUNT = {"amount": 30}


def test_saga_commits(client: dtmx.Client, busi: Any) -> None:
    saga = client.saga(wait_result=True)
    saga.add(busi.url + "/TransOut", busi.url + "/TransOutRevert", AMOUNT)
    saga.add(busi.url + "/TransIn", busi.url + "/TransInRevert", AMOUNT)
    saga.submit()
    assert client.wait_final(saga.gid) == "succeed"
    assert busi.called(saga.gid) == [("TransOut", "action"), ("TransIn", "action")]
    branches = client.query(saga.gid)["branches"]
    assert {b["status"] for b in branches if b["op"] == "action"} == {"succeed"}


def test_saga_compensates(client: dtmx.Client, busi: Any) -> None:
    saga = client.saga(wait_result=True)
    saga.add(busi.url + "/TransOut", busi.url + "/TransOutRevert", AMOUNT)
    saga.add(busi.url + "/TransIn", busi.url + "/TransInRevert", {"amount": 30, "fail": "TransIn"})
    with pytest.raises(dtmx.FailureError):
        saga.submit()
    assert client.wait_final(saga.gid) == "failed"
    calls = busi.called(saga.gid)
    assert calls[:2] == [("TransOut", "action"), ("TransIn", "action")]
    assert ("TransOutRevert", "compensate") in calls


def test_saga_async(client: dtmx.Client, busi: Any) -> None:
    async def main() -> str:
        gid = await client.new_gid_async()
        saga = client.saga(gid, wait_result=True)
        saga.add(busi.url + "/TransOut", busi.url + "/TransOutRevert", AMOUNT)
        await saga.submit_async()
        return await client.wait_final_async(gid)

    assert asyncio.run(main()) == "succeed"


def balance(busi: Any, account: str) -> Any:
    db = busi.sqlite()
    try:
        row = db.execute("select balance from account where id = ?", (account,)).fetchone()
        return row and row[0]
    finally:
        db.close()


def test_msg_do_and_submit(client: dtmx.Client, busi: Any) -> None:
    msg = client.msg().add(busi.url + "/TransIn", AMOUNT)
    msg.do_and_submit(busi.url + "/QueryPrepared", transfer_locally(busi, "msg-ok", 30))
    assert client.wait_final(msg.gid) == "succeed"
    assert balance(busi, "msg-ok") == 30
    assert busi.called(msg.gid) == [("TransIn", "action")]


def test_msg_local_failure_aborts(client: dtmx.Client, busi: Any) -> None:
    msg = client.msg().add(busi.url + "/TransIn", AMOUNT)

    def refuse(branch: dtmx.Branch) -> None:
        transfer_locally(busi, "msg-refused", 30)(branch)
        raise dtmx.FailureError("not allowed")

    with pytest.raises(dtmx.FailureError, match="not allowed"):
        msg.do_and_submit(busi.url + "/QueryPrepared", refuse)
    assert client.wait_final(msg.gid) == "failed"
    assert busi.called(msg.gid) == []


def test_msg_error_asks_check_back(client: dtmx.Client, busi: Any) -> None:
    """The local work committed, then the callback raised a plain exception: the client asks
    the check-back, which finds the barrier row, and submits."""
    msg = client.msg().add(busi.url + "/TransIn", AMOUNT)

    def commit_then_raise(branch: dtmx.Branch) -> None:
        transfer_locally(busi, "msg-doubt", 5)(branch)
        raise KeyError("lost the reply")

    with pytest.raises(KeyError):
        msg.do_and_submit(busi.url + "/QueryPrepared", commit_then_raise)
    assert client.wait_final(msg.gid) == "succeed"
    assert balance(busi, "msg-doubt") == 5


def test_msg_do_and_submit_async(client: dtmx.Client, busi: Any) -> None:
    async def main() -> str:
        msg = client.msg().add(busi.url + "/TransIn", AMOUNT)

        async def work(branch: dtmx.Branch) -> None:
            await asyncio.sleep(0)
            transfer_locally(busi, "msg-async", 7)(branch)

        await msg.do_and_submit_async(busi.url + "/QueryPrepared", work)
        return await client.wait_final_async(msg.gid)

    assert asyncio.run(main()) == "succeed"
    assert balance(busi, "msg-async") == 7


def tcc_branches(busi: Any, tcc: dtmx.Tcc, fail: str = "") -> None:
    u = busi.url
    tcc.call_branch(AMOUNT, u + "/TransOutTry", u + "/TransOutConfirm", u + "/TransOutCancel")
    tcc.call_branch({"amount": 30, "fail": fail}, u + "/TransInTry", u + "/TransInConfirm", u + "/TransInCancel")


def test_tcc_confirms(client: dtmx.Client, busi: Any) -> None:
    tcc = client.tcc()
    tcc.run(lambda t: tcc_branches(busi, t))
    assert client.wait_final(tcc.gid) == "succeed"
    calls = busi.called(tcc.gid)
    assert calls[:2] == [("TransOutTry", "try"), ("TransInTry", "try")]
    assert sorted(calls[2:]) == [("TransInConfirm", "confirm"), ("TransOutConfirm", "confirm")]


def test_tcc_cancels(client: dtmx.Client, busi: Any) -> None:
    tcc = client.tcc()
    with pytest.raises(dtmx.FailureError):
        tcc.run(lambda t: tcc_branches(busi, t, fail="TransInTry"))
    assert client.wait_final(tcc.gid) == "failed"
    calls = busi.called(tcc.gid)
    assert ("TransOutCancel", "cancel") in calls and ("TransInCancel", "cancel") in calls
    assert not any(op == "confirm" for _, op in calls)
    assert "TransInTry refused" in client.query(tcc.gid)["transaction"]["rollback_reason"]


def test_tcc_async(client: dtmx.Client, busi: Any) -> None:
    async def main() -> str:
        tcc = client.tcc()

        async def body(t: dtmx.Tcc) -> dtmx.BranchReply:
            u = busi.url
            return await t.call_branch_async(AMOUNT, u + "/TransOutTry", u + "/TransOutConfirm", u + "/TransOutCancel")

        reply = await tcc.run_async(body)
        assert reply.status == 200 and reply.json() == {"dtm_result": "SUCCESS"}
        return await client.wait_final_async(tcc.gid)

    assert asyncio.run(main()) == "succeed"


def mysql_balance(account: str) -> Any:
    conn = mysql_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("select balance from dtmx_py.account where id = %s", (account,))
            row = cur.fetchone()
            return row and row[0]
    finally:
        conn.close()


def set_mysql_balance(account: str, value: int) -> None:
    conn = mysql_connect()
    with conn.cursor() as cur:
        cur.execute("replace into dtmx_py.account values (%s, %s)", (account, value))
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def mysql_barrier() -> None:
    from dtmx import BarrierTable

    conn = mysql_connect()
    BarrierTable("mysql").create(conn)
    conn.close()


def test_xa_commits_on_mariadb(client: dtmx.Client, busi: Any, mysql_barrier: None) -> None:
    set_mysql_balance("xa-a", 0)
    set_mysql_balance("xa-b", 0)
    xa = client.xa()
    xa.run(lambda x: [x.call_branch({"amount": 10, "account": a}, busi.url + "/XaTransIn") for a in ("xa-a", "xa-b")])
    assert client.wait_final(xa.gid) == "succeed"
    assert (mysql_balance("xa-a"), mysql_balance("xa-b")) == (10, 10)
    ops = [op for _, op in busi.called(xa.gid)]
    assert ops.count("action") == 2 and ops.count("commit") == 2


def test_xa_rolls_back_on_mariadb(client: dtmx.Client, busi: Any, mysql_barrier: None) -> None:
    set_mysql_balance("xa-c", 0)

    def body(x: dtmx.Xa) -> None:
        x.call_branch({"amount": 10, "account": "xa-c"}, busi.url + "/XaTransIn")
        x.call_branch({"amount": 10, "account": "xa-c", "fail": "XaTransIn"}, busi.url + "/XaTransIn")

    xa = client.xa()
    with pytest.raises(dtmx.FailureError):
        xa.run(body)
    assert client.wait_final(xa.gid) == "failed"
    assert mysql_balance("xa-c") == 0
    assert ("XaTransIn", "rollback") in busi.called(xa.gid)
