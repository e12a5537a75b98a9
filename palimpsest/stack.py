"""`palimpsest up` and `down`: the whole stack on 127.0.0.1 from one command.

A Prefect server (its database under ``$PALIMPSEST_HOME/prefect``), the
deployments of ``prefect.yaml``, a process worker and the Palimpsest web
server, each a process of its own whose pid is kept under
``$PALIMPSEST_HOME/run``. Prefect is driven through its command line, so the
core library still never imports it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .config import Settings
from .errors import PalimpsestError

CHECKOUT = Path(__file__).resolve().parent.parent
SERVICES = ("prefect-server", "prefect-worker", "web")


class StackError(PalimpsestError):
    """The stack could not be started or stopped."""


def _bin(name: str) -> str:
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else name


def _env(settings: Settings, api_url: str) -> dict[str, str]:
    return {**os.environ, "PREFECT_HOME": str(settings.home / "prefect"),
            "PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1", "PALIMPSEST_HOME": str(settings.home)}


def up(settings: Settings, *, prefect_port: int = 4200, web_port: int = 8000,
       echo: Callable[[str], None] = print) -> dict[str, str]:
    """Start the server, deploy, start a worker and the web server; return their URLs."""
    if not (CHECKOUT / "prefect.yaml").exists():
        raise StackError("palimpsest up runs from a source checkout (prefect.yaml not found)")
    run = settings.home / "run"
    run.mkdir(parents=True, exist_ok=True)
    if any(_alive(run / f"{name}.pid") for name in SERVICES):
        raise StackError("the stack is already running; `palimpsest down` stops it")
    api = f"http://127.0.0.1:{prefect_port}/api"
    env = _env(settings, api)
    _start(run, "prefect-server", [_bin("prefect"), "server", "start", "--host", "127.0.0.1",
                                   "--port", str(prefect_port)], env)
    _wait_for(f"{api}/health", "the Prefect server", run / "prefect-server.log")
    echo(f"Prefect server: http://127.0.0.1:{prefect_port}")
    _prefect(env, "work-pool", "create", "palimpsest", "--type", "process", "--overwrite")
    _prefect(env, "--no-prompt", "deploy", "--all")
    echo("deployed: snapshot-url, sweep-watchlist (every 5 min), discover-articles "
         "(every 10 min), reextract (manual), verify-archive (weekly)")
    _start(run, "prefect-worker", [_bin("prefect"), "worker", "start", "--pool", "palimpsest"],
           env)
    echo("worker started on pool 'palimpsest'")
    _start(run, "web", [_bin("palimpsest"), "serve", "--host", "127.0.0.1",
                        "--port", str(web_port)], env)
    _wait_for(f"http://127.0.0.1:{web_port}/healthz", "the web server", run / "web.log")
    echo(f"web UI and API: http://127.0.0.1:{web_port}")
    return {"prefect": f"http://127.0.0.1:{prefect_port}", "web": f"http://127.0.0.1:{web_port}"}


def down(settings: Settings, *, echo: Callable[[str], None] = print) -> list[str]:
    """Stop whatever `up` started; return the names of the services stopped."""
    stopped = []
    for name in reversed(SERVICES):
        pid_file = settings.home / "run" / f"{name}.pid"
        pid = _alive(pid_file)
        if pid:
            _stop(pid)
            stopped.append(name)
            echo(f"stopped {name}")
        pid_file.unlink(missing_ok=True)
    return stopped


def _start(run: Path, name: str, command: list[str], env: dict[str, str]) -> None:
    log = (run / f"{name}.log").open("ab")
    process = subprocess.Popen(command, env=env, cwd=CHECKOUT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    (run / f"{name}.pid").write_text(str(process.pid))


def _prefect(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([_bin("prefect"), *args], env=env, cwd=CHECKOUT, capture_output=True,
                          text=True, timeout=600)
    if done.returncode:
        raise StackError(f"prefect {' '.join(args)} failed: {(done.stderr or done.stdout)[-500:]}")


def _wait_for(url: str, what: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise StackError(f"{what} did not start within {timeout:g}s; see {log}")


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _stop(pid: int, timeout: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``timeout``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
