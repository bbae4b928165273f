"""Runs examples/python/quick_start.py against the real dtmx server: it must report both
sagas as expected and exit 0."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO, free_port


def test_quick_start(dtm_server: str) -> None:
    env = dict(os.environ, DTMX_SERVER=dtm_server, BUSI_PORT=str(free_port()))
    run = subprocess.run([sys.executable, "quick_start.py"], cwd=REPO / "examples" / "python",
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "first saga: succeed; second saga: failed" in run.stdout
    assert "TransOutRevert" in run.stdout
