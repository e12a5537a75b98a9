"""The ``palimpsest`` command line: argument handling only.

Each command reads settings once, calls the core, and prints either a
readable summary or, with ``--json``, the stable JSON contract. Errors from
the core become one-line messages and a non-zero exit status.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from .config import Settings
from .errors import PalimpsestError

F = TypeVar("F", bound=Callable[..., Any])


class IsoTime(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 time; UTC when it has no offset."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-28T09:30:00Z)",
                      param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON (the stable contract) instead of text.")(func)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn Palimpsest errors into one-line messages and exit status 1."""
    try:
        yield
    except PalimpsestError as exc:
        raise click.ClickException(str(exc)) from exc


def emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group()
@click.version_option(package_name="palimpsest")
def main() -> None:
    """Archive news articles and track every edit made after publication."""


@main.command()
@click.argument("url")
@json_option
def snapshot(url: str, as_json: bool) -> None:
    """Capture URL now and record a new version if the article changed."""
    from .pipeline import snapshot as take

    with clear_errors():
        result = take(url, settings=Settings.from_env())
    if as_json:
        emit(result.as_dict())
        return
    described = {
        "new": f"first version recorded (v{result.version})",
        "changed": f"new version v{result.version}: {', '.join(result.changed_fields)} changed",
        "revert": f"reverted to an earlier text, recorded as v{result.version}",
        "unchanged": f"unchanged since v{result.version}",
        "ab-flip": f"headline flipped back to v{result.version}'s: a likely A/B test",
        "unpublished": "the article is gone (error page archived)",
        "wall": "a paywall, consent or bot-check page was served; archived, not a version",
        "redirected": "redirected to a different article; archived, not a version",
    }[result.outcome]
    click.echo(f"{result.url}: {described}\nWARC: {result.warc_key}")


@main.command()
@click.argument("url")
@click.option("--diff", "diff_to", type=int, metavar="N",
              help="Show the word diff from version N-1 to version N.")
@click.option("--as-of", "as_of", type=IsoTime(),
              help="Show the article as it stood at TIME (ISO 8601; UTC without an offset).")
@json_option
def history(url: str, diff_to: int | None, as_of: datetime | None, as_json: bool) -> None:
    """Show the versions, edits and events recorded for URL."""
    from .history import HistoryStore
    from .timeline import render_diff, render_timeline

    with clear_errors():
        store = HistoryStore(Settings.from_env().db_url)
        try:
            if as_of is not None:
                data = store.as_of(url, as_of)
            elif as_json and diff_to is None:
                click.echo(store.history_json(url))  # megabytes for long histories: no re-encoding
                return
            else:
                data = store.history(url)
        finally:
            store.close()
    if diff_to is not None and as_of is None:
        edit = next((e for e in data["edits"] if e["to_version"] == diff_to), None)
        if edit is None:
            raise click.ClickException(f"version {diff_to} of {url} has no edit to show "
                                       f"(versions: 1 to {len(data['versions'])})")
        data = edit
    if as_json:
        emit(data)
    elif as_of is not None:
        click.echo(_render_as_of(data))
    elif diff_to is not None:
        click.echo(render_diff(data, style=click.style))
    else:
        click.echo(render_timeline(data))


def _render_as_of(data: dict[str, Any]) -> str:
    head = f"{data['url']} as of {data['as_of']} (last snapshot {data['last_snapshot_at']}, " \
           f"{data['outcome']})"
    version = data["version"]
    if version is None:
        return head + "\nno version had been recorded"
    fields = version["fields"]
    lines = [head, f"v{version['version']}, first seen {version['captured_at']}", "",
             fields["headline"], ", ".join(fields["authors"]), ""]
    return "\n".join(lines + fields["body"])


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--url", help="The page's URL, to resolve relative links (HTML files only).")
@json_option
def extract(files: tuple[str, ...], url: str | None, as_json: bool) -> None:
    """Extract article fields from HTML files, stored WARCs or - (stdin)."""
    from .extract import extract as extract_html
    from .warc import page_from_warc

    for name in files:
        with clear_errors():
            page_url = url
            if name == "-":
                html: str | bytes = sys.stdin.buffer.read()
            elif name.endswith((".warc", ".warc.gz")):
                with open(name, "rb") as stream:
                    page_url, html = page_from_warc(stream)
            else:
                html = _read(name)
            fields = extract_html(html, url=page_url).fields()
        if as_json:
            click.echo(json.dumps({"file": name, "url": page_url, "fields": fields},
                                  ensure_ascii=False))
        else:
            click.echo(f"== {name}")
            for key, value in fields.items():
                shown = "\n    ".join(value) if key == "body" else value
                click.echo(f"{key}: {shown}")


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {name}: {exc.strerror}") from exc


@main.command()
@click.option("--pause", default=0.0, show_default=True,
              help="Seconds to wait between rounds, to watch the site change.")
def demo(pause: float) -> None:
    """Run a local news site, track its articles while it edits them, show the edits."""
    from .demo import run_demo

    with clear_errors():
        run_demo(Settings.from_env(), echo=click.echo, style=click.style, pause=pause)
