"""dtmx quick start in Python: DTM's README walk-through, a money transfer as a saga.

It starts the business service of busi.py on BUSI_PORT (default 8081), then submits two
sagas to the dtmx server at DTMX_SERVER (default http://localhost:36789/api/dtmsvr):

1. TransOut then TransIn, both succeed: the saga ends `succeed`;
2. the same, but TransIn refuses (409 FAILURE): the server compensates with
   TransOutRevert and the saga ends `failed`.

It exits 0 only when both end as described.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import uvicorn

import dtmx
from busi import app, journal


def serve(port: int) -> str:
    """Starts the business service in a thread; its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/api/busi"


def transfer(dtm: dtmx.Client, busi: str, refuse: str = "") -> str:
    """Submits the transfer saga and waits for its final status."""
    body = {"amount": 30, "refuse": refuse}
    saga = dtm.saga(dtm.new_gid(), wait_result=True)
    saga.add(busi + "/TransOut", busi + "/TransOutRevert", body)
    saga.add(busi + "/TransIn", busi + "/TransInRevert", body)
    print(f"saga {saga.gid}: submitting (TransIn {'refuses' if refuse else 'succeeds'})")
    try:
        saga.submit()
    except dtmx.FailureError as e:
        print(f"saga {saga.gid}: rolled back ({e.message})")
    return dtm.wait_final(saga.gid)


def main() -> int:
    server = os.environ.get("DTMX_SERVER", "http://localhost:36789/api/dtmsvr")
    busi = serve(int(os.environ.get("BUSI_PORT", "8081")))
    dtm = dtmx.Client(server)
    try:
        first = transfer(dtm, busi)
        second = transfer(dtm, busi, refuse="TransIn")
    except dtmx.TransportError as e:
        print(f"cannot reach the dtmx server at {server}: {e.message}", file=sys.stderr)
        return 1
    steps = [s for _, s in journal]
    print(f"first saga: {first}; second saga: {second}; steps: {steps}")
    ok = first == "succeed" and second == "failed" and "TransOutRevert" in steps
    print("quick start OK" if ok else "quick start FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
