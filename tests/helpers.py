"""Small helpers shared by several test modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def warcio_check(path: Path) -> str:
    """Run ``warcio check -v`` on a WARC; fail the test unless it passes."""
    result = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", "-v",
                             str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout and "fail" not in result.stdout
    return result.stdout
