"""Running the service under uvicorn.

uvicorn has no timeout for receiving a request's line and headers: `timeout_keep_alive` only runs
between requests and is cancelled by the first byte that arrives, and a new connection gets no
timer at all, so a client that connects and sends nothing, or a few bytes of a request line and
then one header byte now and then, holds its connection (and its file descriptor) for as long as
it likes. ASGI middleware cannot help: it runs only once the headers are complete. So the service
runs uvicorn's h11 protocol with a deadline for the request head (`HeaderTimeoutH11Protocol`):
`header_timeout_s` from the moment the connection opens, or from the first byte of a later request
on a kept-alive connection, the request line and every header must have arrived, or the
connection is closed. The deadline ends as soon as the head is complete, so slow uploads and long
responses are not affected.
"""

from __future__ import annotations

import asyncio
import logging

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.config import ServiceConfig

DEFAULT_HOST = "127.0.0.1"  # reachable from this machine only, unless asked otherwise
DEFAULT_PORT = 8080

log = logging.getLogger("blueprint.service")


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within
    `header_timeout_s` (subclass it with the value: `header_timeout_protocol`)."""

    header_timeout_s: float = 10.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the first bytes of a later request on this connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete (or the peer is done)
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            prefix = "%s:%d - " % self.client if self.client else ""
            log.info("%sclosing a connection whose request line and headers did not arrive within %g s",
                     prefix, self.header_timeout_s)
            self.transport.close()


def header_timeout_protocol(timeout_s: float) -> type[HeaderTimeoutH11Protocol]:
    """The protocol class for uvicorn's `http=` with this header deadline."""
    if timeout_s <= 0:
        raise ValueError("the header timeout must be > 0 s")
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout_s": float(timeout_s)})


def build_server(config: ServiceConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 log_level: str = "info") -> uvicorn.Server:
    app = create_app(config)
    # proxy headers off: the client address is the socket's, never a header the client wrote
    uv_config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(),
                               proxy_headers=False, server_header=False, timeout_graceful_shutdown=10,
                               http=header_timeout_protocol(config.header_timeout_s))
    return uvicorn.Server(uv_config)


def serve(config: ServiceConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          log_level: str = "info") -> None:
    build_server(config, host, port, log_level).run()
