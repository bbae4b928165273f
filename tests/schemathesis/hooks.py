"""Schemathesis hooks for dtmx (loaded through SCHEMATHESIS_HOOKS by run-tests).

`documented_server_error`: a 5xx passes only when the operation documents that status and
the reply's `message` matches one of the operation's `x-server-errors` glob patterns in
docs/openapi.yaml (DTM's 500s kept for compatibility, store failures). Anything else, a
caught panic (`internal error: ...`), a non-JSON 500, a 502, is a failure.

With DTMX_STORE_HEALTHY=1 (run-tests sets it: the server runs on a fresh local embedded
store) a store failure (`storage error: ...`) is a failure too: it can only come from a
bug, such as the store's writer having stopped.
"""

import fnmatch
import json
import os

import schemathesis

STORE_HEALTHY = os.environ.get("DTMX_STORE_HEALTHY") == "1"


@schemathesis.check
def documented_server_error(ctx, response, case):
    """A 5xx must be a server error the description lists for the operation."""
    status = response.status_code
    if status < 500:
        return None
    raw = case.operation.definition.raw
    documented = str(status) in (raw.get("responses") or {})
    patterns = raw.get("x-server-errors") or []
    if STORE_HEALTHY:
        patterns = [p for p in patterns if not p.startswith("storage error:")]
    try:
        message = json.loads(response.content)["message"]
    except (ValueError, KeyError, TypeError):
        message = None
    if documented and isinstance(message, str):
        if any(fnmatch.fnmatchcase(message, p) for p in patterns):
            return None
    body = response.content[:300].decode("utf-8", "replace")
    raise AssertionError(
        f"Undocumented server error {status} on {case.operation.label}: {body}"
    )


# Generated transaction bodies are mostly refused (random gids with control characters,
# branch URLs on hosts the run's allowlist refuses, fewer payloads than steps), so the
# engine would rarely run. Every other body is made plausible: a clean gid, branch URLs on
# 127.0.0.1:9 (nothing listens: calls fail at once and are retried), one payload per
# step, valid branch headers. Options (timeouts, intervals, limits, wait_result) are kept
# as generated, so extreme values reach the engine.
_TRANS_ROUTES = ("/prepare", "/submit", "/prepareWorkflow", "/abort")
_TOKEN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def _plausible(body):
    gid = body.get("gid")
    if isinstance(gid, str):
        body["gid"] = "st-" + "".join(c for c in gid if c in _TOKEN)[:60]
    steps = body.get("steps")
    if isinstance(steps, list):
        for i, step in enumerate(steps):
            if isinstance(step, dict):
                for key in ("action", "compensate"):
                    if key in step and step[key]:
                        step[key] = f"http://127.0.0.1:9/api/{key}{i}"
        payloads = body.get("payloads")
        payloads = payloads if isinstance(payloads, list) else []
        body["payloads"] = payloads + ["{}"] * max(0, len(steps) - len(payloads))
    if body.get("query_prepared"):
        body["query_prepared"] = "http://127.0.0.1:9/api/queryPrepared"
    headers = body.get("branch_headers")
    if isinstance(headers, dict):
        body["branch_headers"] = {
            k: v
            for k, v in headers.items()
            if k and set(k) <= _TOKEN and isinstance(v, str) and v.isascii() and v.isprintable()
        }
    if isinstance(body.get("custom_data"), str) and body.get("trans_type") in ("saga", "msg"):
        try:
            json.loads(body["custom_data"])
        except ValueError:
            del body["custom_data"]
    return body


@schemathesis.hook
def map_body(context, body):
    operation = context.operation
    if operation is None or not isinstance(body, dict):
        return body
    if not operation.path.endswith(_TRANS_ROUTES) or len(repr(body)) % 2:
        return body
    return _plausible(body)
