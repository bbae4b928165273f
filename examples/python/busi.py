"""The business service of the quick start (FastAPI): TransOut and TransIn move money,
TransOutRevert and TransInRevert undo those moves. A step answers 409 FAILURE by raising
dtmx.FailureError; dtmx.fastapi.branch turns that into the reply DTM expects.

Run it alone with:  uvicorn busi:app --port 8081
"""

from __future__ import annotations

from typing import Any, Dict, List

from fastapi import Depends, FastAPI

import dtmx
import dtmx.fastapi

app = FastAPI(title="dtmx quick start: business service")

#: What the service did, in order: (gid, step).
journal: List[tuple] = []


def step(name: str, body: Dict[str, Any], branch: dtmx.Branch) -> None:
    print(f"  busi: {name:<15} gid={branch.gid} op={branch.op} body={body}")
    journal.append((branch.gid, name))
    if body.get("refuse") == name:
        raise dtmx.FailureError(f"{name} refused")


def route(name: str) -> Any:
    """The endpoint of step ``name``."""

    def endpoint(body: Dict[str, Any], branch: dtmx.Branch = Depends(dtmx.fastapi.branch_request)) -> None:
        step(name, body, branch)

    return dtmx.fastapi.branch(endpoint)


for name in ("TransOut", "TransOutRevert", "TransIn", "TransInRevert"):
    app.post(f"/api/busi/{name}")(route(name))
