"""Local object-store servers for the storage and cluster tests, each in its own process on a free
port of 127.0.0.1, and the environment that points the pipeline at them the documented way
(BP_STORAGE_OPTIONS_JSON, with S3 credentials through the secrets resolver's NAME_FILE).

- S3: moto's standalone server (moto.server's WSGI application, as `moto_server` runs it, but
  with one request at a time: real S3 applies If-None-Match / If-Match atomically, and moto
  checks and then writes, which its threaded mode can interleave).
- GCS: gcp-storage-emulator (`gcp-storage-emulator start --in-memory`). It accepts GCS's
  `ifGenerationMatch` precondition and ignores it; with `preconditions=True` the launcher adds
  what GCS documents (412 when the object's generation differs, 0 meaning "must not exist").
  Its HTTP server handles one request at a time, so the check and the write are atomic.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BUCKET = "blueprint-test"
S3_KEY_ID = "bp-test-key-id"
S3_SECRET_VALUE = "bp-test-secret-5d41402abc4b2a76"  # moto accepts any credentials

_MOTO = """
import sys
from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, create_backend_app
run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)
"""

_GCS = """
import sys
from http import HTTPStatus
from gcp_storage_emulator import server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects

original = objects.insert

def insert(request, response, storage, *args, **kwargs):
    wanted = request.query.get("ifGenerationMatch")
    if wanted:
        name = (request.query.get("name") or [None])[0]
        try:
            current = storage.get_file_obj(request.params["bucket_name"], name)["generation"]
        except NotFound:
            current = "0"
        if str(current) != wanted[0]:
            response.status = HTTPStatus.PRECONDITION_FAILED
            response.json({"error": {"code": 412, "message": "conditionNotMet"}})
            return None
    return original(request, response, storage, *args, **kwargs)

objects.insert = insert
for _, handlers in server.HANDLERS:
    for method, handler in list(handlers.items()):
        if handler is original:
            handlers[method] = insert
server.create_server("127.0.0.1", int(sys.argv[1]), in_memory=True, default_bucket=sys.argv[2]).run()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process; `stop()` ends it (and only it)."""

    def __init__(self, kind: str, argv: list[str], port: int, log: Path):
        self.kind, self.port = kind, port
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.log = log
        deadline = time.monotonic() + 120  # a loaded 2-core machine imports moto slowly
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {self.proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{kind} server did not listen on port {port}: {log.read_text()[-2000:]}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def start_s3(tmp: Path) -> Server:
    port = free_port()
    srv = Server("s3", [sys.executable, "-c", _MOTO, str(port)], port, tmp / f"moto-{port}.log")
    req = urllib.request.Request(f"{srv.url}/{BUCKET}", method="PUT")  # CreateBucket (us-east-1)
    urllib.request.urlopen(req, timeout=30).close()
    return srv


def start_gcs(tmp: Path, preconditions: bool = True) -> Server:
    port = free_port()
    if preconditions:
        argv = [sys.executable, "-c", _GCS, str(port), BUCKET]
    else:  # the emulator exactly as its documentation starts it
        argv = [str(Path(sys.executable).with_name("gcp-storage-emulator")), "start", "--host", "127.0.0.1",
                "--port", str(port), "--in-memory", "--default-bucket", BUCKET]
    return Server("gcs", argv, port, tmp / f"gcs-{port}.log")


def secret_files(tmp: Path) -> dict[str, str]:
    """S3 credentials as mounted secret files (the resolver's NAME_FILE), outside any output."""
    folder = tmp / "secrets"
    folder.mkdir(exist_ok=True)
    (folder / "key_id").write_text(S3_KEY_ID + "\n")
    (folder / "secret").write_text(S3_SECRET_VALUE + "\n")
    return {"BLUEPRINT_S3_KEY_ID_FILE": str(folder / "key_id"), "BLUEPRINT_S3_SECRET_FILE": str(folder / "secret")}


def storage_env(server: Server, tmp: Path) -> dict[str, str]:
    """Environment variables that make `s3://BUCKET/...` or `gs://BUCKET/...` reach `server`."""
    if server.kind == "s3":
        options = {"endpoint_url": server.url,
                   "key": {"from_secret": "BLUEPRINT_S3_KEY_ID"},
                   "secret": {"from_secret": "BLUEPRINT_S3_SECRET"},
                   "client_kwargs": {"region_name": "us-east-1"}}
        return {"BP_STORAGE_OPTIONS_JSON": json.dumps(options), **secret_files(tmp)}
    # The emulator has no authentication: anonymous access, as gcsfs documents for emulators.
    # gcsfs 2026.x first asks GCS's gRPC storage-control API for the bucket's layout (zonal or
    # hierarchical buckets); an emulator has no such API, and each process would wait 60 s for
    # the answer. The variable turns that off (read when gcsfs is imported), as for any emulator.
    return {"BP_STORAGE_OPTIONS_JSON": json.dumps({"endpoint_url": server.url, "token": "anon",
                                                   "project": "blueprint-test"}),
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without cloud credentials or BP_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BP_", "AWS_", "GOOGLE_", "STORAGE_EMULATOR", "RAY_ADDRESS", "BLUEPRINT_S3"))}
    env.update(extra)
    return env


def url(server: Server, path: str) -> str:
    scheme = "s3" if server.kind == "s3" else "gs"
    return f"{scheme}://{BUCKET}/{path.strip('/')}"
