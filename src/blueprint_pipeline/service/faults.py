"""Fault injection for tests and drills: seeded 503s, 429s with Retry-After, slow responses and
dropped connections. Off unless `BP_SERVICE_FAULTS` is set, e.g.

    BP_SERVICE_FAULTS="seed=7,p503=0.3,p429=0.1,pstall=0.05,stall_s=2,pdrop=0.02,retry_after_s=1"

One seeded draw per request picks at most one fault. /healthz and /metrics are never faulted,
so a drill cannot make the service look dead to its supervisor or blind its monitoring.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from blueprint_pipeline.errors import InvalidInputError

EXEMPT_PATHS = ("/healthz", "/metrics")


@dataclass(frozen=True)
class FaultConfig:
    seed: int = 0
    p503: float = 0.0
    p429: float = 0.0
    pstall: float = 0.0
    pdrop: float = 0.0
    stall_s: float = 2.0
    retry_after_s: int = 1
    stage_pause_s: float = 0.0  # jobs pause after each stage (a window for kill drills)

    @classmethod
    def parse(cls, text: str) -> FaultConfig:
        """Parse `name=value,...`; names are this class's fields."""
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in types:
                raise InvalidInputError(
                    f"BP_SERVICE_FAULTS: unknown entry {part!r}; known: {', '.join(types)}")
            try:
                values[name] = int(raw) if types[name] == "int" else float(raw)
            except ValueError:
                raise InvalidInputError(f"BP_SERVICE_FAULTS: {name} must be a number, got {raw!r}") from None
        cfg = cls(**values)
        probs = (cfg.p503, cfg.p429, cfg.pstall, cfg.pdrop)
        if any(p < 0 for p in probs) or sum(probs) > 1 or cfg.stall_s < 0 or cfg.retry_after_s < 0 or cfg.stage_pause_s < 0:
            raise InvalidInputError("BP_SERVICE_FAULTS: probabilities must be >= 0 and sum to <= 1")
        return cfg


class FaultInjector:
    """ASGI middleware. `on_fault(kind)` is called for each injected fault (for /metrics)."""

    def __init__(self, app: Any, config: FaultConfig, on_fault: Callable[[str], None] = lambda k: None):
        self.app = app
        self.config = config
        self.on_fault = on_fault
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def _draw(self) -> str | None:
        with self._lock:
            r = self._rng.random()
        c = self.config
        for kind, p in (("503", c.p503), ("429", c.p429), ("stall", c.pstall), ("drop", c.pdrop)):
            if r < p:
                return kind
            r -= p
        return None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        kind = self._draw()
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.on_fault(kind)
        if kind == "503":
            await _send_json(send, 503, {"detail": "injected fault: service unavailable"})
        elif kind == "429":
            await _send_json(send, 429, {"detail": "injected fault: too many requests"},
                             [(b"retry-after", str(self.config.retry_after_s).encode())])
        elif kind == "stall":
            await asyncio.sleep(self.config.stall_s)
            await self.app(scope, receive, send)
        else:
            await self._drop_after_processing(scope, receive, send)

    async def _drop_after_processing(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Handle the request, then lose the response half-way: the client cannot tell whether
        its request took effect (the case idempotency keys exist for)."""
        messages: list[dict] = []

        async def capture(message: dict) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None:
            return
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body) + 1).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        # Returning with the response incomplete makes the server close the connection.


async def _send_json(send: Callable, status: int, payload: dict, extra_headers: list | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})
