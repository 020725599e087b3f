"""Redaction: every secret value the resolver hands out is registered here and masked in any
text the project writes (logs, markers, exception messages, reports)."""

from __future__ import annotations

import threading

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
