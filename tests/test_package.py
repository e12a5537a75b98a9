"""The package's shape: public API, no Prefect in the core, documented CLI."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import palimpsest
from palimpsest.cli import main

ROOT = Path(__file__).parent.parent


def test_exported_members() -> None:
    assert palimpsest.__all__ == sorted(palimpsest.__all__[:-1]) + ["__version__"]
    for name in palimpsest.__all__:
        assert getattr(palimpsest, name) is not None
    with pytest.raises(AttributeError):
        palimpsest.no_such_thing  # noqa: B018


def test_core_never_imports_prefect() -> None:
    modules = [f"palimpsest.{m.name}" for m in pkgutil.iter_modules(palimpsest.__path__)]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "assert 'prefect' not in sys.modules, 'prefect imported'\n"
            "print(len(sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr


def _long_options() -> list[tuple[str, str]]:
    found = []
    for name, command in main.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            if isinstance(param, click.Option):
                found += [(name, opt) for opt in param.opts if opt.startswith("--")]
    return found


@pytest.mark.parametrize("command, option", _long_options())
def test_every_cli_option_is_in_the_readme(command: str, option: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"palimpsest {command}\b.*{re.escape(option)}\b", readme), \
        f"README does not show `palimpsest {command} {option}`"
