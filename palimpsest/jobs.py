"""Re-snapshots asked for from the web UI or API.

With a Prefect API configured, each is a flow run of the snapshot deployment
(created through Prefect's REST API, so the core still never imports
Prefect); without one, it runs here in a background thread.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from .config import Settings
from .errors import PalimpsestError
from .pipeline import snapshot
from .urls import check_url

FINAL_PREFECT_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class Jobs:
    """Snapshot jobs by id: queued, running, done or failed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        # One at a time here: each snapshot starts a browser of its own.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-job")

    def submit(self, url: str) -> dict[str, Any]:
        """Start a snapshot of ``url``; return the job (raises InvalidURL first)."""
        url = check_url(url, allow_private=self.settings.allow_private)
        job_id = uuid.uuid4().hex
        job: dict[str, Any] = {"id": job_id, "url": url, "status": "queued", "result": None,
               "error": None, "created_at": datetime.now(UTC).isoformat(), "flow_run_id": None,
               "runner": "prefect" if self.settings.prefect_api_url else "local"}
        with self._lock:
            self._jobs[job_id] = job
        if self.settings.prefect_api_url:
            job["flow_run_id"] = self._create_flow_run(url)
        else:
            self._pool.submit(self._run, job_id)
        return dict(job)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return None
        if job["flow_run_id"] and job["status"] not in ("done", "failed"):
            self._refresh(job)
        return dict(job)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job_id: str) -> None:
        job = self._jobs[job_id]
        job["status"] = "running"
        try:
            job["result"] = snapshot(job["url"], settings=self.settings).as_dict()
            job["status"] = "done"
        except PalimpsestError as exc:
            job["error"], job["status"] = str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - reported to whoever polls the job
            job["error"], job["status"] = f"unexpected error: {exc!r}", "failed"

    def _prefect(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        api = (self.settings.prefect_api_url or "").rstrip("/")
        request = urllib.request.Request(
            f"{api}{path}", method=method, headers={"Content-Type": "application/json"},
            data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PalimpsestError(f"the Prefect API at {api} failed: {exc}") from exc

    def _create_flow_run(self, url: str) -> str:
        flow, deployment = self.settings.snapshot_deployment.split("/", 1)
        found = self._prefect("GET", f"/deployments/name/{urllib.parse.quote(flow)}/"
                                     f"{urllib.parse.quote(deployment)}")
        run = self._prefect("POST", f"/deployments/{found['id']}/create_flow_run",
                            {"parameters": {"url": url}})
        return str(run["id"])

    def _refresh(self, job: dict[str, Any]) -> None:
        run = self._prefect("GET", f"/flow_runs/{job['flow_run_id']}")
        state = (run.get("state") or {}).get("type", "PENDING")
        job["prefect_state"] = state
        if state == "RUNNING":
            job["status"] = "running"
        elif state == "COMPLETED":
            job["status"] = "done"
        elif state in FINAL_PREFECT_STATES:
            job["status"] = "failed"
            job["error"] = (run.get("state") or {}).get("message") or state.lower()
