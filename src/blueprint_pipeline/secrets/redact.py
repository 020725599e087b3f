"""Redaction: every secret value the resolver hands out is registered here and masked in any
text the project writes (logs, markers, exception messages, reports)."""

from __future__ import annotations

import threading
from typing import Any

MASK = "***"
_MIN_LEN = 4  # shorter values would mask ordinary words
_lock = threading.Lock()
_values: set[str] = set()


def register_secret(value: str) -> None:
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _values.add(value)


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for v in values:
        if v in text:
            text = text.replace(v, MASK)
    return text


def redact_values(value: Any) -> Any:
    """`value` with every string in it redacted: dict keys and values, list and tuple items, at
    any depth (other values unchanged). For data that arrives from outside (a service's answer)
    before any of it is stored, so no field derived from it can carry a secret."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_values(k): redact_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_values(v) for v in value)
    return value
