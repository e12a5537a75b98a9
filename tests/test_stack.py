"""`palimpsest up` and `down` start and stop the whole stack on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .s3server import free_port

pytestmark = pytest.mark.prefect


def test_up_then_down(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("palimpsest"))
    env = {**os.environ, "PALIMPSEST_HOME": str(tmp_path / "home"), "PALIMPSEST_TOKEN": "t"}
    env.pop("PREFECT_API_URL", None)
    prefect, web = free_port(), free_port()
    up = subprocess.run([exe, "up", "--prefect-port", str(prefect), "--web-port", str(web)],
                        env=env, capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"http://127.0.0.1:{web}" in up.stdout
        health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{prefect}/api/health"))
        assert health is True
        request = urllib.request.Request(
            f"http://127.0.0.1:{prefect}/api/deployments/filter", data=b"{}", method="POST",
            headers={"Content-Type": "application/json"})
        names = {d["name"] for d in json.load(urllib.request.urlopen(request))}
        assert names == {"snapshot-url-default", "sweep-watchlist-default",
                         "discover-articles-default", "reextract-default",
                         "verify-archive-default"}
        assert urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz").status == 200
        again = subprocess.run([exe, "up", "--prefect-port", str(prefect), "--web-port",
                                str(web)], env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        down = subprocess.run([exe, "down"], env=env, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0
    assert {"stopped prefect-server", "stopped prefect-worker", "stopped web"} <= \
        set(down.stdout.splitlines())
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz", timeout=2)
