"""Running the service under uvicorn."""

from __future__ import annotations

import uvicorn

from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.config import ServiceConfig

DEFAULT_HOST = "127.0.0.1"  # reachable from this machine only, unless asked otherwise
DEFAULT_PORT = 8080


def build_server(config: ServiceConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 log_level: str = "info") -> uvicorn.Server:
    app = create_app(config)
    # proxy headers off: the client address is the socket's, never a header the client wrote
    uv_config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(),
                               proxy_headers=False, server_header=False, timeout_graceful_shutdown=10)
    return uvicorn.Server(uv_config)


def serve(config: ServiceConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          log_level: str = "info") -> None:
    build_server(config, host, port, log_level).run()
