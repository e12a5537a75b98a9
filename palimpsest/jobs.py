"""Re-snapshots asked for from the web UI or API, kept in the history database.

With a Prefect API configured, each is a flow run of the snapshot deployment
(created through Prefect's REST API, so the core still never imports
Prefect), and the job's id is the flow run's; without one, it runs in the web
server's process, in a background thread. A job is a row of the ``jobs``
table, not an entry in a server's memory: any server process answers for any
job (another instance on the same database, or the same one after a restart),
and a local job whose server stopped before it finished says so.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Row

from .config import Settings
from .database import from_db_time, to_db_time, translated
from .errors import PalimpsestError, PrefectError
from .history import HistoryStore
from .pipeline import snapshot
from .schedule import retry_after
from .schema import jobs
from .urls import check_url

UNFINISHED = ("queued", "running")
#: How long a finished job is kept (for whoever asked to see how it went)
KEPT = timedelta(days=30)
INTERRUPTED = "interrupted: the web server running it stopped before it finished; ask again"
#: Answers of a Prefect API too busy to answer now, and how often it is asked
PREFECT_BUSY, PREFECT_TRIES = (429, 502, 503), 5
#: Prefect's state types, as a job's status (those not here: still queued)
PREFECT_STATUS = {"RUNNING": "running", "COMPLETED": "done", "FAILED": "failed",
                  "CRASHED": "failed", "CANCELLED": "failed", "CANCELLING": "failed"}


class Jobs:
    """Snapshot jobs by id: queued, running, done or failed."""

    def __init__(self, settings: Settings, history: HistoryStore) -> None:
        self.settings = settings
        self.engine = history.engine
        # One at a time here: each snapshot starts a browser of its own.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-job")
        self._me = _process(os.getpid())
        self._waiting: dict[str, Future[None]] = {}  # local jobs not yet finished

    def submit(self, url: str) -> dict[str, Any]:
        """Start a snapshot of ``url``; return the job (raises InvalidURL first).

        A job for ``url`` that is still queued is returned instead of a new
        one: it captures the page as it stands when it starts (a reader
        clicking twice, or ten readers at once, ask for one snapshot)."""
        url = check_url(url, allow_private=self.settings.allow_private)
        if (queued := self._queued(url)) is not None:
            return queued
        self._forget_old()
        if self.settings.prefect_api_url:
            job_id, runner, worker = self._create_flow_run(url), "prefect", None
        else:
            job_id, runner, worker = uuid.uuid4().hex, "local", self._me
        self._write(jobs.insert().values(
            id=job_id, url=url, runner=runner, status="queued", worker=worker,
            created_at=to_db_time(datetime.now(UTC))))
        if runner == "local":
            waiting = self._waiting[job_id] = self._pool.submit(self._run, job_id, url)
            waiting.add_done_callback(lambda _: self._waiting.pop(job_id, None))
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job, its status brought up to date; None if there is no such job."""
        row = self._read(job_id)
        if row is None or row.status not in UNFINISHED:
            return _job(row) if row is not None else None
        if row.runner == "prefect":
            now = self._prefect_state(job_id)
        elif _gone(row.worker):
            now = {"status": "failed", "error": INTERRUPTED}
        else:
            now = {"status": row.status}
        if now["status"] != row.status:
            self._update(job_id, **now)
            row = self._read(job_id)
        return _job(row) if row is not None else None

    def close(self) -> None:
        """Stop taking jobs: those still queued here fail (interrupted); the
        one running goes on in the background."""
        for job_id, waiting in list(self._waiting.items()):
            if waiting.cancel():
                self._update(job_id, status="failed", error=INTERRUPTED)
        self._pool.shutdown(wait=False)

    def _run(self, job_id: str, url: str) -> None:
        self._update(job_id, status="running")
        try:
            result = snapshot(url, settings=self.settings).as_dict()
        except PalimpsestError as exc:
            self._update(job_id, status="failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to whoever polls the job
            self._update(job_id, status="failed", error=f"unexpected error: {exc!r}")
        else:
            self._update(job_id, status="done", result=result)

    def _queued(self, url: str) -> dict[str, Any] | None:
        with translated("read the jobs"), self.engine.connect() as conn:
            ids = conn.execute(select(jobs.c.id).where(
                jobs.c.url == url, jobs.c.status == "queued")).scalars().all()
        for job_id in ids:  # (their status brought up to date first)
            if (job := self.get(job_id)) is not None and job["status"] == "queued":
                return job
        return None

    def _forget_old(self) -> None:
        """Delete the jobs finished more than ``KEPT`` ago: the snapshots they
        made are in the history; the jobs only said how asking went."""
        self._write(delete(jobs).where(
            jobs.c.finished_at < to_db_time(datetime.now(UTC) - KEPT)))

    def _update(self, job_id: str, **values: Any) -> None:
        if values.get("status") in ("done", "failed"):
            values["finished_at"] = to_db_time(datetime.now(UTC))
        self._write(jobs.update().where(jobs.c.id == job_id).values(**values))

    def _read(self, job_id: str) -> Row[Any] | None:
        with translated("read the job"), self.engine.connect() as conn:
            return conn.execute(select(jobs).where(jobs.c.id == job_id)).first()

    def _write(self, statement: Any) -> None:
        with translated("record the job"), self.engine.begin() as conn:
            conn.execute(statement)

    # ------------------------------------------------------------- Prefect

    def _prefect(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Ask the Prefect API; asked again (as Prefect's own client does)
        while it answers that it is busy: 429, 502, 503."""
        api = (self.settings.prefect_api_url or "").rstrip("/")
        request = urllib.request.Request(
            f"{api}{path}", method=method, headers={"Content-Type": "application/json"},
            data=json.dumps(body).encode() if body is not None else None)
        for attempt in range(PREFECT_TRIES):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                if exc.code not in PREFECT_BUSY or attempt == PREFECT_TRIES - 1:
                    raise PrefectError(f"the Prefect API at {api} failed: {exc}") from exc
                asked = retry_after(exc.headers.get("Retry-After"), datetime.now(UTC))
                time.sleep(min(max(asked.total_seconds(), 0.5 * 2 ** attempt), 10))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise PrefectError(f"the Prefect API at {api} failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _create_flow_run(self, url: str) -> str:
        flow, deployment = self.settings.snapshot_deployment.split("/", 1)
        found = self._prefect("GET", f"/deployments/name/{urllib.parse.quote(flow)}/"
                                     f"{urllib.parse.quote(deployment)}")
        run = self._prefect("POST", f"/deployments/{found['id']}/create_flow_run",
                            {"parameters": {"url": url}})
        return str(run["id"])

    def _prefect_state(self, run_id: str) -> dict[str, Any]:
        """What the flow run's state says of the job: its status, and the
        snapshot's result (the table artifact the flow leaves) or the error."""
        state = self._prefect("GET", f"/flow_runs/{run_id}").get("state") or {}
        status = PREFECT_STATUS.get(state.get("type", ""), "queued")
        if status == "failed":
            return {"status": status, "error": state.get("message") or state["type"].lower()}
        if status == "done":
            found = self._prefect("POST", "/artifacts/filter", {"limit": 1, "artifacts": {
                "flow_run_id": {"any_": [run_id]}, "type": {"any_": ["table"]}}})
            return {"status": status, "result": json.loads(found[0]["data"])[0] if found else None}
        return {"status": status}


def _job(row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "runner": row.runner, "status": row.status,
            "created_at": from_db_time(row.created_at),
            "finished_at": from_db_time(row.finished_at),
            "flow_run_id": row.id if row.runner == "prefect" else None,
            "error": row.error, "result": row.result}


def _process(pid: int) -> str | None:
    """A process as host:pid:start (its start time, in clock ticks since boot,
    tells it from a later process given the same pid); None if it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{socket.gethostname()}:{pid}:{stat.rpartition(')')[2].split()[19]}"


def _gone(worker: str | None) -> bool:
    """Whether the process that took a local job has stopped. Only a process
    on this host can be looked at: one elsewhere is taken to be running."""
    if not worker:
        return False
    host, pid, _ = worker.rsplit(":", 2)
    return host == socket.gethostname() and _process(int(pid)) != worker
