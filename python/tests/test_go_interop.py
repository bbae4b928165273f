"""DTM's own Go SDK (dtmcli v1.18.7, tests/python-interop) drives sagas and TCCs whose
branches are served by busi.py, written with dtmx's Python helpers, through the real dtmx
server: the helpers answer what DTM's SDK and server expect."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest

from conftest import REPO


def test_go_sdk_drives_a_python_service(dtm_server: str, busi: Any, client: Any) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed")
    env = dict(os.environ, DTM_URL=dtm_server, BUSI_URL=busi.url)
    run = subprocess.run([go, "test", "-count=1", "-v", "./..."], cwd=REPO / "tests" / "python-interop",
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "--- PASS: TestSaga" in run.stdout and "--- PASS: TestTcc" in run.stdout
    assert busi.called("go-py-saga-ok") == [("TransOut", "action"), ("TransIn", "action")]
    assert ("TransOutRevert", "compensate") in busi.called("go-py-saga-fail")
    assert client.wait_final("go-py-saga-fail") == "failed"
    confirms = [s for s, op in busi.called("go-py-tcc-ok") if op == "confirm"]
    assert sorted(confirms) == ["TransInConfirm", "TransOutConfirm"]
    assert ("TransInCancel", "cancel") in busi.called("go-py-tcc-fail")
    assert client.wait_final("go-py-tcc-fail") == "failed"
