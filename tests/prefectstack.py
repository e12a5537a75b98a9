"""A real Prefect server on 127.0.0.1 with the deployments of prefect.yaml,
and process workers that can be started and killed, for tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .s3server import free_port

ROOT = Path(__file__).parent.parent


def _prefect() -> str:
    return str(Path(sys.executable).with_name("prefect"))


@dataclass
class PrefectStack:
    home: Path
    port: int = 0
    server: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "WARNING",
                **extra}

    def start(self, timeout: float = 120) -> PrefectStack:
        self.port = free_port()
        log = (self.home / "server.log").open("wb")
        self.server = subprocess.Popen(
            [_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.api_url}/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise RuntimeError((self.home / "server.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        self._run("work-pool", "create", "palimpsest", "--type", "process")
        self._run("--no-prompt", "deploy", "--all")
        return self

    def _run(self, *args: str, **extra: str) -> None:
        done = subprocess.run([_prefect(), *args], env=self.env(**extra), cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"prefect {' '.join(args)}: {done.stdout}{done.stderr}")

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        log = (self.home / f"worker-{len(self.workers)}.log").open("wb")
        worker = subprocess.Popen([_prefect(), "worker", "start", "--pool", "palimpsest"],
                                  env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
                                  cwd=ROOT, start_new_session=True)
        self.workers.append(worker)
        return worker

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Ask the server; again while it answers that it is busy (its SQLite
        database locked by the workers: 503), as Prefect's own client does."""
        request = urllib.request.Request(
            f"{self.api_url}{path}", method=method, headers={"Content-Type": "application/json"},
            data=json.dumps(body).encode() if body is not None else None)
        for attempt in range(5):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code not in (429, 502, 503) or attempt == 4:
                    raise
                time.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    def run_deployment(self, name: str, *, wait: float = 0, **parameters: Any) -> dict[str, Any]:
        """Create a flow run of deployment ``flow/deployment`` through the REST API, as
        the UI's Run button does; wait up to ``wait`` seconds for it to finish."""
        flow, deployment = name.split("/")
        found = self._api("GET", f"/deployments/name/{flow}/{deployment}")
        run = self._api("POST", f"/deployments/{found['id']}/create_flow_run",
                        {"parameters": parameters})
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            run = self._api("GET", f"/flow_runs/{run['id']}")
            if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            time.sleep(1)
        return run  # type: ignore[no-any-return]

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and everything it started (flow runs, browsers)."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)

    def stop(self) -> None:
        for process in [*self.workers, self.server]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
