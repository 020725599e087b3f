"""A local stand-in for the Gemini REST API (tests and benchmarks; never used by the pipeline).

Serves POST /v1beta/models/<model>:generateContent on 127.0.0.1 with a fixed delay, answers per
object category (or per task family, for instruction phrasings), and records the arrival time of every request so callers can measure the rate
the server really saw.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from blueprint_pipeline.testing.rates import max_in_window

# the physics prompt's object category, or the instruction prompt's task family (sim/phrasings.py)
_CATEGORY = re.compile(r"^(?:Category|Task family): (.*)$", re.MULTILINE)
DEFAULT_ANSWER = {"material": "plastic", "mass_kg": 0.5, "static_friction": 0.5, "dynamic_friction": 0.4,
                  "restitution": 0.3}


class FakeGemini:
    """`answers` maps a category to a dict (sent as the JSON answer), a string (sent as the raw
    answer text), or an int (that HTTP status with an error body); other categories get
    `default_answer` (same forms)."""

    def __init__(self, delay_s: float = 0.0, answers: dict[str, Any] | None = None, api_key: str = "test-key",
                 default_answer: Any = None):
        self.delay_s = delay_s
        self.answers = answers or {}
        self.default_answer = DEFAULT_ANSWER if default_answer is None else default_answer
        self.api_key = api_key
        self.arrivals: list[float] = []
        self.calls_by_category: dict[str, int] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm on, the body
            # waits for the client's delayed ACK (~40 ms), a stall no real service has.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def do_GET(self) -> None:
                if self.path == "/_stats":  # arrival times, for a benchmark running us in another process
                    with fake._lock:
                        body = {"arrivals": list(fake.arrivals), "calls_by_category": dict(fake.calls_by_category)}
                    return self._send(200, body)
                if self.path == "/_reset":
                    with fake._lock:
                        fake.arrivals.clear()
                        fake.calls_by_category.clear()
                    return self._send(200, {})
                self._send(404, {"error": {"code": 404, "message": "not found"}})

            def do_POST(self) -> None:
                with fake._lock:
                    fake.arrivals.append(time.monotonic())
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.headers.get("x-goog-api-key") != fake.api_key:
                    return self._send(403, {"error": {"code": 403, "message": "API key not valid"}})
                if not re.fullmatch(r"/v1beta/models/[\w.-]+:generateContent", self.path):
                    return self._send(404, {"error": {"code": 404, "message": "not found"}})
                prompt = json.loads(raw)["contents"][0]["parts"][0]["text"]
                m = _CATEGORY.search(prompt)
                category = m.group(1).strip() if m else ""
                with fake._lock:
                    fake.calls_by_category[category] = fake.calls_by_category.get(category, 0) + 1
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                answer = fake.answers.get(category, fake.default_answer)
                if isinstance(answer, int):
                    return self._send(answer, {"error": {"code": answer, "message": "injected"}})
                text = answer if isinstance(answer, str) else json.dumps(answer)
                self._send(200, {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGemini:  # noqa: PYI034 - not subclassed
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def max_requests_in_window(self, window_s: float = 1.0) -> int:
        return max_in_window(self.arrivals, window_s)


def main() -> None:
    """Serve in this process until killed: `python -m blueprint_pipeline.testing.fake_gemini
    --delay-s 0.2`; prints the base URL on the first line of stdout."""
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-s", type=float, default=0.2)
    ap.add_argument("--api-key", default="test-key")
    ap.add_argument("--nice", type=int, default=0, help="niceness change; negative raises priority (needs privileges)")
    args = ap.parse_args()
    if args.nice:
        try:
            os.nice(args.nice)
        except OSError:
            pass
    with FakeGemini(delay_s=args.delay_s, api_key=args.api_key) as fake:
        print(fake.base_url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    main()
