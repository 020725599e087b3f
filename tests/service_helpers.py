"""Shared by the service and client tests: real servers on 127.0.0.1 sockets, hostile tarballs."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Self

import httpx
import uvicorn

from blueprint_pipeline.service.auth import hash_key
from blueprint_pipeline.service.config import ServiceConfig

API_KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-fedcba9876543210"
REPO = Path(__file__).resolve().parents[1]
KITCHEN = REPO / "examples" / "kitchen.json"


def config_for(data_dir: Path, **overrides) -> ServiceConfig:
    values = {"data_dir": data_dir, "api_key_hashes": (hash_key(API_KEY), hash_key(OTHER_KEY))}
    values.update(overrides)
    return ServiceConfig(**values)


class ThreadedServer:
    """uvicorn serving `app` on a real loopback socket, in a thread of this process."""

    def __init__(self, app, log_level: str = "warning", port: int = 0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server thread died at start-up")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


class CountingTransport(httpx.HTTPTransport):
    """Counts the requests a client really sends (attempts that reach the network layer)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return super().handle_request(request)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """`blueprint serve` in a subprocess (so a test can SIGKILL it)."""

    def __init__(self, data_dir: Path, env: dict[str, str], port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
        self.env.update({"BP_SERVICE_DATA_DIR": str(data_dir),
                         "BP_SERVICE_API_KEY_HASHES": f"{hash_key(API_KEY)},{hash_key(OTHER_KEY)}"})
        self.env.update(env)
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"service-{self.port}.log"

    def start(self, timeout_s: float = 180.0) -> ServiceProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from blueprint_pipeline.cli import main; main()", "serve", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"service did not start: {self.log()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def bomb_tar_gz(path: Path, expanded_bytes: int) -> Path:
    """A valid tar.gz whose one file is `expanded_bytes` of zeros (about 1000:1 compression),
    written in a stream so the test never holds it inflated."""
    import gzip

    info = tarfile.TarInfo("zeros.bin")
    info.size = expanded_bytes
    with gzip.open(path, "wb", compresslevel=9) as gz:
        gz.write(info.tobuf(format=tarfile.PAX_FORMAT))
        chunk = bytes(1 << 20)
        left = expanded_bytes
        while left:
            n = min(left, len(chunk))
            gz.write(chunk[:n])
            left -= n
        gz.write(bytes(-expanded_bytes % 512 + 1024))  # padding + end-of-archive blocks
    return path


def tree_snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def small_manifest(folder: Path) -> Path:
    """The kitchen example (the project ships it; a missing one fails the test)."""
    assert KITCHEN.is_file(), f"{KITCHEN} is missing"
    return KITCHEN


def tiny_manifest(folder: Path, objects: int = 3) -> Path:
    """A small synthetic manifest written by the scene package's own generator (fast to validate)."""
    from blueprint_pipeline.scene.synth import write_synthetic_manifest

    path = folder / "tiny_manifest.json"
    write_synthetic_manifest(str(path), n=objects, seed=1)
    return path
