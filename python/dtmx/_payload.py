"""Payloads as the wire carries them: text or bytes as given, anything else as compact JSON."""

from __future__ import annotations

import json
from typing import Any, Union

from . import _native

Payload = Union[str, bytes, bytearray, dict, list, None]


def encode(payload: Any) -> Union[str, bytes]:
    """``str``/``bytes`` unchanged, ``None`` as empty, anything else ``json.dumps``-ed
    (strict JSON: no NaN or infinity). A value json cannot encode raises the core's
    invalid-payload :class:`InvalidArgumentError`."""
    if payload is None:
        return ""
    if isinstance(payload, (str, bytes)):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise _native.invalid_payload(str(e)) from e
