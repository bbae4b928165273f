"""Payloads as the wire carries them: text or bytes as given, anything else as compact JSON."""

from __future__ import annotations

import json
from typing import Any, Union

Payload = Union[str, bytes, bytearray, dict, list, None]


def encode(payload: Any) -> Union[str, bytes]:
    """``str``/``bytes`` unchanged, ``None`` as empty, anything else ``json.dumps``-ed."""
    if payload is None:
        return ""
    if isinstance(payload, (str, bytes)):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
