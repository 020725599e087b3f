"""The service closes connections that do not send a whole request head in time (slowloris):
the real server (`build_server`, uvicorn) on a real loopback socket, raw sockets as clients."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from service_helpers import API_KEY, config_for

from blueprint_pipeline.config import load_settings
from blueprint_pipeline.service.config import ServiceConfig
from blueprint_pipeline.service.server import build_server
from blueprint_pipeline.service.worker import WorkerSettings

HEADER_TIMEOUT_S = 0.5
# Generously longer than the header timeout: reaching it means the server never closed.
SOCKET_TIMEOUT_S = 20 * HEADER_TIMEOUT_S


@pytest.fixture
def server(tmp_path):
    cfg = config_for(tmp_path / "data", header_timeout_s=HEADER_TIMEOUT_S,
                     worker=WorkerSettings(max_concurrent_jobs=0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    srv = build_server(cfg, port=sock.getsockname()[1], log_level="warning")
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        assert thread.is_alive(), "server thread died at start-up"
        time.sleep(0.02)
    yield sock.getsockname()
    srv.should_exit = True
    thread.join(timeout=30)
    sock.close()


def connect(address) -> socket.socket:
    conn = socket.create_connection(address, timeout=SOCKET_TIMEOUT_S)
    conn.settimeout(SOCKET_TIMEOUT_S)
    return conn


def read_response(conn: socket.socket) -> bytes:
    """One whole response (these responses all carry Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += conn.recv(65536)
    return head


@pytest.mark.parametrize("partial", [
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a",  # headers cut short
    b"GET /heal",  # request line cut short
    b"",  # nothing at all
])
def test_a_connection_with_a_partial_request_head_is_closed(server, partial):
    with connect(server) as conn:
        if partial:
            conn.sendall(partial)
        assert conn.recv(1024) == b""  # closed by the server, not by our socket timeout


def test_trickled_header_bytes_do_not_keep_the_connection_open(server):
    """One header byte every fifth of the timeout: each byte would reset a per-read timer."""
    with connect(server) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = 0
        try:
            for byte in b"X-Trickle: " + b"a" * 100:
                conn.sendall(bytes([byte]))
                sent += 1
                time.sleep(HEADER_TIMEOUT_S / 5)
        except (BrokenPipeError, ConnectionResetError):
            pass
        else:
            assert conn.recv(1024) == b""
        assert sent < 100  # the server closed long before the trickle ended


def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(server):
    with connect(server) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(conn).startswith(b"HTTP/1.1 200")
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        assert conn.recv(1024) == b""


def test_a_complete_head_ends_the_deadline_for_a_slow_body(server):
    """Only the head is timed: a body that arrives after the header timeout still gets an answer."""
    body = b"{}"
    with connect(server) as conn:
        conn.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + API_KEY.encode() + b"\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        time.sleep(3 * HEADER_TIMEOUT_S)
        conn.sendall(body)
        head = read_response(conn)
    assert head.startswith(b"HTTP/1.1 422")  # the body was read and judged: `{}` is no manifest


def test_header_timeout_is_a_setting(tmp_path):
    settings = load_settings({"BP_SERVICE_HEADER_TIMEOUT_S": "2.5", "BP_SERVICE_API_KEY_HASHES": "a" * 64,
                              "BP_SERVICE_DATA_DIR": str(tmp_path)})
    assert ServiceConfig.from_settings(settings).header_timeout_s == 2.5
    assert load_settings({}).service_header_timeout_s == 10.0
