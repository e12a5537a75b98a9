"""The ``palimpsest`` command line: argument handling only.

Each command reads settings once, calls the core, and prints either a
readable summary or, with ``--json``, the stable JSON contract. Errors from
the core become one-line messages and a non-zero exit status.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import lifecycle
from .config import Settings
from .errors import InvalidURL, PalimpsestError
from .models import ARTICLE_FIELDS, EVENT_KINDS, TEXT_FIELDS

if TYPE_CHECKING:
    from .models import SnapshotResult

F = TypeVar("F", bound=Callable[..., Any])


class IsoTime(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 time; UTC when it has no offset."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        from .database import iso_time

        if isinstance(value, datetime):
            return value
        try:
            return iso_time(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-28T09:30:00Z)",
                      param, ctx)


class Versions(click.ParamType):  # type: ignore[type-arg]
    """N (the edit recorded from version N-1 to N) or A..B (any two versions):
    (None, N) or (A, B)."""

    name = "N|A..B"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[int | None, int]:
        if isinstance(value, tuple):
            return value
        old, dots, new = str(value).partition("..")
        try:
            return (int(old), int(new)) if dots else (None, int(old))
        except ValueError:
            self.fail(f"{value!r} is not a version number N or two, A..B", param, ctx)


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


def env_settings() -> Settings:
    """The settings of the environment; one that cannot be used is an error line."""
    with clear_errors():
        return Settings.from_env()


def emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group()
@click.version_option(package_name="palimpsest")
def main() -> None:
    """Archive news articles and track every edit made after publication."""


@main.command()
@click.argument("urls", nargs=-1, required=True)
@json_option
def snapshot(urls: tuple[str, ...], as_json: bool) -> None:
    """Capture URLS now (- reads them from standard input, one a line) and
    record a new version of each article that changed. Several URLs share one
    browser; one that fails is reported and the rest go on (exit status 1)."""
    from .pipeline import snapshot as take

    settings = env_settings()
    if urls != ("-",) and len(urls) == 1:
        with clear_errors():
            result = take(urls[0], settings=settings)
        if as_json:
            emit(result.as_dict())
        else:
            click.echo(f"{result.url}: {_described(result)}\nWARC: {result.warc_key}")
        return
    from .capture import BrowserPool
    from .history import HistoryStore
    from .storage import open_store

    failed = 0
    with clear_errors():
        listed_urls = listed(urls)
        store = open_store(settings.storage_url, s3_options=settings.s3_options)
        with BrowserPool(settings, size=1) as browser, HistoryStore(settings.db_url) as history:
            for url in listed_urls:
                try:
                    result = take(url, settings=settings, browser=browser, store=store,
                                  history=history)
                except PalimpsestError as exc:
                    failed += 1
                    click.echo(json.dumps({"url": url, "error": str(exc)}, ensure_ascii=False)
                               if as_json else f"Error: {url}: {exc}", err=not as_json)
                    continue
                click.echo(json.dumps(result.as_dict(), ensure_ascii=False) if as_json
                           else f"{result.url}: {_described(result)}")
    if failed:
        raise click.ClickException(f"{failed} of {len(listed_urls)} URLs were not captured")


def _described(result: SnapshotResult) -> str:
    return {
        "new": f"first version recorded (v{result.version})",
        "changed": f"new version v{result.version}: {', '.join(result.changed_fields)} changed",
        "revert": f"reverted to an earlier text, recorded as v{result.version}",
        "unchanged": f"unchanged since v{result.version}",
        "ab-flip": f"headline flipped back to v{result.version}'s: a likely A/B test",
        "unpublished": "the article is gone (its error or 'not found' page archived)",
        "wall": "a paywall, consent or bot-check page was served, or the reader was "
                "refused (401, 403); archived, not a version",
        "redirected": "redirected to a different article; archived, not a version",
        "unavailable": "the server could not answer then (5xx, 429, 408); archived, "
                       "nothing learned about the article",
    }[result.outcome]


@main.command()
@click.argument("url")
@click.option("--diff", "diff", type=Versions(),
              help="Show the word diff from version N-1 to version N (the edit recorded), "
                   "or from version A to version B (e.g. 1..5: what changed since the first).")
@click.option("--as-of", "as_of", type=IsoTime(),
              help="Show the article as it stood at TIME (ISO 8601; UTC without an offset).")
@json_option
def history(url: str, diff: tuple[int | None, int] | None, as_of: datetime | None,
            as_json: bool) -> None:
    """Show the versions, edits and events recorded for URL."""
    from .history import HistoryStore
    from .timeline import render_diff, render_timeline

    with clear_errors(), HistoryStore(env_settings().db_url) as store:
        if as_of is not None:
            data = store.as_of(url, as_of)
        elif as_json and diff is None:
            click.echo(store.history_json(url))  # megabytes for long histories: no re-encoding
            return
        else:
            data = store.history(url)
        if diff is not None and as_of is None:
            data = _edit(data, *diff)
    if as_json:
        emit(data)
    elif as_of is not None:
        click.echo(_render_as_of(data))
    elif diff is not None:
        click.echo(render_diff(data, style=click.style))
    else:
        click.echo(render_timeline(data))


def _edit(history: dict[str, Any], old: int | None, new: int) -> dict[str, Any]:
    """The edit recorded to version ``new`` (``old`` None), or the one from
    ``old`` to ``new``."""
    from .diff import edit_between

    if old is not None:
        edit = edit_between(history, old, new)
    else:
        edit = next((e for e in history["edits"] if e["to_version"] == new), None)
    if edit is None:
        told = f"versions {old} and {new} are the same" if old is not None else \
            f"version {new} has no edit to show (versions: 1 to {len(history['versions'])})"
        raise click.ClickException(f"{history['url']}: {told}")
    return edit


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
    """Extract article fields from HTML files, stored WARCs (or ARC files) or - (stdin)."""
    from .extract import extract as extract_html
    from .warc import page_from_warc

    settings = env_settings()
    for name in files:
        with clear_errors():
            page_url = url
            if name == "-":
                html: str | bytes = sys.stdin.buffer.read()
            elif name.endswith((".warc", ".warc.gz", ".arc", ".arc.gz")):
                with open(name, "rb") as stream:
                    page_url, html = page_from_warc(stream)
            else:
                html = _read(name)
            fields = extract_html(html, url=page_url, rules=settings.site_rules).fields()
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
        run_demo(env_settings(), echo=click.echo, style=click.style, pause=pause)


@contextmanager
def watchlist() -> Iterator[Any]:
    from .history import HistoryStore
    from .watchlist import Watchlist

    with clear_errors(), HistoryStore(env_settings().db_url) as history:
        yield Watchlist(history)


@main.group()
def watch() -> None:
    """The watchlist: articles re-captured on an adaptive schedule."""


def listed(urls: tuple[str, ...]) -> list[str]:
    """URLS as given, ``-`` read from standard input (one a line; blank lines
    and ``#`` comments skipped), every one checked before any is added: a list
    with a bad line is refused whole, each bad line named (fix it, run again)."""
    from .urls import check_url

    given: list[tuple[str, str]] = []
    for url in urls:
        if url != "-":
            given.append((url, url))
            continue
        for n, line in enumerate(sys.stdin.read().splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                given.append((f"line {n}", line.strip()))
    bad = []
    for where, url in given:
        try:
            check_url(url, allow_private=True)  # (addresses are checked at capture time)
        except InvalidURL as exc:
            bad.append(f"{where}: {exc}" if where != url else str(exc))
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise InvalidURL(f"nothing added: {len(bad)} of {len(given)} URLs are not valid: "
                         f"{'; '.join(bad[:3])}{more}")
    if not given:
        raise InvalidURL("no URL given: standard input held none")
    return [url for _, url in given]


@watch.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--priority", type=int, default=0, show_default=True,
              help="Each step up halves the time between checks (negative: doubles it).")
def watch_add(urls: tuple[str, ...], priority: int) -> None:
    """Watch URLS (- reads them from standard input, one a line); each is
    captured at the next sweep."""
    with watchlist() as items:
        for url in listed(urls):
            items.add(url, priority=priority)
            click.echo(f"watching {url}")


@watch.command("list")
@click.option("--failing", is_flag=True, help="Only the articles whose last capture failed.")
@json_option
def watch_list(failing: bool, as_json: bool) -> None:
    """Watched articles, soonest due first (with the error of any whose
    captures are failing)."""
    with watchlist() as items:
        entries = items.entries(failing=failing)
    if as_json:
        emit(entries)
        return
    for e in entries:
        click.echo(f"{e['next_check_at'] or 'now':<33} v{e['versions']:<3} {e['status']:<10} "
                   f"{e['url']}")
        if f := e["failing"]:
            click.echo(f"  failing since {f['since']} ({f['failures']} in a row): {f['error']}")


@watch.command("remove")
@click.argument("urls", nargs=-1, required=True)
def watch_remove(urls: tuple[str, ...]) -> None:
    """Stop watching URLS (their history is kept)."""
    with watchlist() as items:
        for url in urls:
            click.echo(f"{'removed' if items.remove(url) else 'not watched'}: {url}")


@main.group()
def feeds() -> None:
    """RSS/Atom feeds and news sitemaps whose new articles join the watchlist."""


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
def feeds_add(urls: tuple[str, ...]) -> None:
    """Register feed or sitemap URLS for discovery (- reads them from standard
    input, one a line)."""
    with watchlist() as items:
        for url in listed(urls):
            click.echo(f"{'added' if items.add_feed(url) else 'already registered'}: {url}")


@feeds.command("list")
@json_option
def feeds_list(as_json: bool) -> None:
    """Registered feeds with when they were last read."""
    with watchlist() as items:
        entries = items.feeds()
    if as_json:
        emit(entries)
        return
    for e in entries:
        state = f"error: {e['last_error']}" if e["last_error"] else \
            f"{e['articles_found']} articles found"
        click.echo(f"{e['url']}  (last read {e['last_polled'] or 'never'}; {state})")


@feeds.command("remove")
@click.argument("urls", nargs=-1, required=True)
def feeds_remove(urls: tuple[str, ...]) -> None:
    """Unregister feed URLS."""
    with watchlist() as items:
        for url in urls:
            click.echo(f"{'removed' if items.remove_feed(url) else 'not registered'}: {url}")


@main.command()
@click.option("--url", help="Only this article.")
@click.option("--since", type=IsoTime(), help="Only articles captured at or after TIME.")
@json_option
def reextract(url: str | None, since: datetime | None, as_json: bool) -> None:
    """Re-run extraction over stored snapshots; rebuild histories that change."""
    from .history import HistoryStore
    from .reextract import reextract as run
    from .storage import open_store

    settings = env_settings()
    with clear_errors(), HistoryStore(settings.db_url) as history:
        store = open_store(settings.storage_url, s3_options=settings.s3_options)
        with click.progressbar(length=history.snapshot_count(), label="re-extracting",
                               file=sys.stderr) as bar:
            report = run(history, store, url=url, since=since, progress=bar.update,
                         rules=settings.site_rules)
    if as_json:
        emit(report.as_dict())
        return
    click.echo(f"{report.snapshots} snapshots of {report.articles} articles re-extracted; "
               f"{len(report.rebuilt)} histories rebuilt")
    for item in report.rebuilt:
        click.echo(f"  {item['url']}: {item['versions_before']} → {item['versions_after']} "
                   "versions")


def listing(func: F) -> F:
    """The options of a listing across the archive: filters, and the format."""
    for option in reversed([
        click.option("--site", help="Only articles on this host (and its www.)."),
        click.option("--since", type=IsoTime(), help="Only from TIME on (ISO 8601)."),
        click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True,
                     help="At most this many, newest first."),
        click.option("--format", "form", type=click.Choice(["text", "json", "csv"]),
                     default="text", show_default=True,
                     help="json: the API's objects; csv: one row each, for a spreadsheet."),
    ]):
        func = option(func)
    return func


def show_listing(rows: list[dict[str, Any]], form: str, columns: dict[str, Callable[..., Any]],
                 line: Callable[[dict[str, Any]], str]) -> None:
    if form == "json":
        emit(rows)
    elif form == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(columns)
        out.writerows([[value(row) for value in columns.values()] for row in rows])
    else:
        for row in rows:
            click.echo(line(row))


@main.command()
@listing
@click.option("--field", type=click.Choice(ARTICLE_FIELDS), help="Only edits that changed it.")
def edits(site: str | None, since: datetime | None, limit: int, form: str,
          field: str | None) -> None:
    """Edits across the archive, newest first (--format csv for a spreadsheet)."""
    from . import queries
    from .history import HistoryStore

    with clear_errors(), HistoryStore(env_settings().db_url) as history:
        rows = queries.recent_edits(history.engine, site=site, field=field, since=since,
                                    limit=limit)
    show_listing(rows, form, {
        "captured_at": itemgetter("captured_at"), "url": itemgetter("url"),
        "article_id": itemgetter("article_id"), "headline": itemgetter("headline"),
        "from_version": itemgetter("from_version"), "to_version": itemgetter("to_version"),
        "changed_fields": lambda r: ";".join(r["changed_fields"]),
        "words_added": itemgetter("words_added"), "words_removed": itemgetter("words_removed"),
        "flags": lambda r: ";".join(r["flags"]),
    }, lambda r: f"{r['captured_at'][:16].replace('T', ' ')}  v{r['to_version']:<3} "
                 f"{', '.join(r['changed_fields']):<24} +{r['words_added']}/-"
                 f"{r['words_removed']}  {r['url']}")


@main.command()
@listing
@click.option("--kind", type=click.Choice(EVENT_KINDS), help="Only events of this kind.")
def events(site: str | None, since: datetime | None, limit: int, form: str,
           kind: str | None) -> None:
    """What else happened to articles (unpublished, back online, moved,
    redirected, walled, A/B tested), newest first."""
    from . import queries
    from .history import HistoryStore

    with clear_errors(), HistoryStore(env_settings().db_url) as history:
        rows = queries.recent_events(history.engine, site=site, kind=kind, since=since,
                                     limit=limit)
    show_listing(rows, form, {
        "at": itemgetter("at"), "kind": itemgetter("kind"), "url": itemgetter("url"),
        "article_id": itemgetter("article_id"), "headline": itemgetter("headline"),
        "snapshot_id": itemgetter("snapshot_id"),
        "detail": lambda r: json.dumps(r["detail"], ensure_ascii=False),
    }, lambda r: f"{r['at'][:16].replace('T', ' ')}  {lifecycle.title(r['kind']):<22} "
                 f"{r['url']}  {lifecycle.said(r['kind'], r['detail'])}".rstrip())


@main.command()
@click.argument("phrase")
@listing
@click.option("--removed", is_flag=True, help="Only where a later version took it out.")
@click.option("--field", "fields", multiple=True, type=click.Choice(TEXT_FIELDS),
              help="Search only this field (repeatable; all of them by default).")
def search(phrase: str, site: str | None, since: datetime | None, limit: int, form: str,
           removed: bool, fields: tuple[str, ...]) -> None:
    """Articles that said PHRASE in any version (any case), the one last seen
    saying it first; and whether a later version took it out."""
    from .history import HistoryStore
    from .search import search_versions

    if not phrase.split():
        raise click.BadParameter("nothing to search for", param_hint="PHRASE")
    with clear_errors(), HistoryStore(env_settings().db_url) as history:
        rows = search_versions(history.engine, phrase, site=site, since=since,
                               removed=removed, within=fields or TEXT_FIELDS, limit=limit)
    show_listing(rows, form, {
        "url": itemgetter("url"), "article_id": itemgetter("article_id"),
        "headline": itemgetter("headline"), "status": itemgetter("status"),
        "versions": lambda r: ";".join(map(str, r["versions"])),
        "latest_version": itemgetter("latest_version"), "first_seen": itemgetter("first_seen"),
        "last_seen": itemgetter("last_seen"), "removed_in": itemgetter("removed_in"),
        "removed_at": itemgetter("removed_at"), "fields": lambda r: ";".join(r["fields"]),
        "excerpt": itemgetter("excerpt"),
    }, _found_line)


def _found_line(row: dict[str, Any]) -> str:
    said = ", ".join(f"v{n}" for n in row["versions"])
    fate = (f"taken out in v{row['removed_in']} ({row['removed_at'][:16].replace('T', ' ')})"
            if row["removed_in"] else f"still in v{row['latest_version']}")
    return f"{row['url']}\n  in {said}; {fate}: {row['excerpt']}"


@main.command()
@click.option("--retry", is_flag=True,
              help="First put the messages given up back in line (once the hook is mended).")
@click.option("--drop", is_flag=True, help="First delete the messages given up.")
@click.option("--deliver", is_flag=True,
              help="First deliver those whose next try is due (the sweep does so too).")
@json_option
def webhooks(retry: bool, drop: bool, deliver: bool, as_json: bool) -> None:
    """The webhook's messages not yet delivered: waiting for their next try,
    or given up (refused by the hook, or not taken within a day)."""
    from .history import HistoryStore
    from .notify import Outbox

    settings = env_settings()
    if deliver and not settings.webhook_url:
        raise click.UsageError("no webhook to deliver to: set PALIMPSEST_WEBHOOK_URL")
    if retry and drop:
        raise click.UsageError("--retry or --drop, not both")
    with clear_errors(), HistoryStore(settings.db_url) as history:
        outbox = Outbox(history)
        if retry or drop:
            changed = outbox.given_up(retry=retry)
            click.echo(f"{'put back in line' if retry else 'dropped'} {changed}", err=True)
        if deliver and settings.webhook_url:
            delivered = outbox.deliver(settings.webhook_url, secret=settings.webhook_secret)
            click.echo(f"delivered {delivered}", err=True)
        rows = outbox.undelivered()
    if as_json:
        emit(rows)
        return
    for r in rows:
        state = "given up" if r["given_up"] else f"next try {r['next_attempt_at'][:19]}"
        click.echo(f"{r['created_at'][:19]}  {state:<28} tries {r['attempts']}  "
                   f"{r['message'].get('kind')}  {r['message'].get('url')}  {r['last_error']}")


@main.command()
@json_option
def status(as_json: bool) -> None:
    """What the archive holds and how its watch is going: articles (watched,
    due, failing, unpublished), versions, snapshots and their bytes, the last
    day's edits and events, the webhook's undelivered messages."""
    from . import queries
    from .history import HistoryStore

    with clear_errors(), HistoryStore(env_settings().db_url) as history:
        f = queries.archive_status(history.engine, now=datetime.now(UTC))
    if as_json:
        emit(f)
        return
    last = (f["last_snapshot"] or "none")[:16].replace("T", " ")
    click.echo(f"articles   {f['articles']:,} (watched {f['watched']:,}: {f['due']:,} due now, "
               f"{f['failing']:,} failing; {f['unpublished']:,} unpublished; "
               f"{f['forgotten']:,} forgotten)\n"
               f"versions   {f['versions']:,}\n"
               f"snapshots  {f['snapshots']:,} ({_size(f['warc_bytes'])} of WARCs; "
               f"last {last})\n"
               f"last day   {f['edits_last_day']:,} edits, {f['events_last_day']:,} events\n"
               f"webhook    {f['webhook_waiting']:,} messages waiting, "
               f"{f['webhook_given_up']:,} given up")


def _size(count: int) -> str:
    """Bytes as a reader says them: 1.3 MB, 2.41 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


@main.command()
@click.argument("url")
@click.confirmation_option(prompt="Delete every snapshot, version and edit of this article?")
@json_option
def forget(url: str, as_json: bool) -> None:
    """Delete everything archived of the article at URL (its WARCs, versions,
    edits, events) but its URLs, which are kept so that it is not archived
    again. Records other articles' revisits point at are kept for them."""
    from .forget import forget as forget_article
    from .history import HistoryStore
    from .storage import open_store

    settings = env_settings()
    with clear_errors(), HistoryStore(settings.db_url) as history:
        done = forget_article(history, open_store(settings.storage_url,
                                                  s3_options=settings.s3_options), url)
    if as_json:
        emit(done.as_dict())
        return
    click.echo(f"forgot {done.url}: {done.snapshots} snapshot(s), {done.bytes_deleted:,} bytes "
               f"of WARCs deleted; {done.payloads_kept} record(s) other articles point at kept"
               + (f" in {done.kept_warc}" if done.kept_warc else ""))


@main.command()
@click.option("--url", help="Only the snapshots of this article (any of its URLs).")
@click.option("--delete-unrecorded", is_flag=True,
              help="Delete the WARCs no snapshot names (left by a process killed before it "
                   "recorded them; stored over an hour ago).")
@json_option
def verify(url: str | None, delete_unrecorded: bool, as_json: bool) -> None:
    """Check that every stored WARC still holds exactly the bytes recorded
    for it (size and SHA-256): exit status 1 if one is missing or altered.
    Checking them all also lists the WARCs no snapshot names."""
    from .fixity import check_fixity
    from .history import HistoryStore
    from .storage import open_store

    settings = env_settings()
    with clear_errors(), HistoryStore(settings.db_url) as history:
        store = open_store(settings.storage_url, s3_options=settings.s3_options)
        with click.progressbar(length=history.snapshot_count(), label="verifying",
                               file=sys.stderr) as bar:
            report = check_fixity(history, store, url=url, progress=bar.update,
                                  delete_unrecorded=delete_unrecorded)
    if as_json:
        emit(report.as_dict())
    else:
        click.echo(f"{report.checked} WARCs checked: {report.intact} intact, "
                   f"{len(report.missing)} missing, {len(report.altered)} altered, "
                   f"{len(report.unreadable)} unreadable")
        for kind in ("missing", "altered", "unreadable"):
            for item in getattr(report, kind):
                what = (f"snapshot {item['snapshot_id']} of {item['url']}"
                        if item["snapshot_id"] is not None else "records kept for revisits")
                click.echo(f"  {kind}: {what}: {item['warc_key']}")
        if report.unrecorded:
            done = "deleted" if delete_unrecorded else "--delete-unrecorded deletes them"
            click.echo(f"{len(report.unrecorded)} WARCs no snapshot names ({done}):")
        for item in report.unrecorded:
            click.echo(f"  unrecorded: {item['warc_key']}")
    if report.failed:
        sys.exit(1)


@main.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--wacz", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The WACZ file to write.")
@json_option
def export(urls: tuple[str, ...], out: Path, as_json: bool) -> None:
    """Export every snapshot of the articles at URLS (- reads them from
    standard input, one a line) as one WACZ, for ReplayWeb.page and pywb."""
    from .history import HistoryStore
    from .storage import open_store
    from .wacz import export_wacz

    settings = env_settings()
    with clear_errors(), HistoryStore(settings.db_url) as history:
        store = open_store(settings.storage_url, s3_options=settings.s3_options)
        summary = export_wacz(history.engine, store, listed(urls), out)
    if as_json:
        emit(summary)
        return
    click.echo(f"{summary['path']}: {summary['articles']} article(s), {summary['snapshots']} "
               f"snapshots, {summary['warcs']} WARCs, {summary['bytes']:,} bytes")


@main.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", "urls", multiple=True,
              help="Only the pages of this article (repeatable); otherwise every HTML page "
                   "(of a WACZ, those its pages.jsonl lists).")
@json_option
def import_archives(files: tuple[Path, ...], urls: tuple[str, ...], as_json: bool) -> None:
    """Backfill histories from WARCs or WACZs made elsewhere (browsertrix,
    Heritrix, wget, the Wayback Machine), or from ARC files: each HTML page
    response becomes a snapshot at the time it was archived (of the address
    first asked for, if redirects led to it), and its article's history is
    rebuilt in time order. Importing a file again adds nothing."""
    from .backfill import backfill
    from .history import HistoryStore
    from .storage import open_store

    settings = env_settings()
    with clear_errors(), HistoryStore(settings.db_url) as history:
        store = open_store(settings.storage_url, s3_options=settings.s3_options)
        done = backfill(history, store, list(files), list(urls) or None,
                        say=lambda news: click.echo(news, err=True))
    if as_json:
        emit(done)
        return
    click.echo(f"{done['snapshots']} snapshot(s) imported, {done['already_imported']} "
               f"imported before, {done['forgotten']} of forgotten articles left out")
    if done["revisits_without_original"]:
        click.echo(f"{done['revisits_without_original']} revisit(s) left out: the record "
                   "each refers to is in none of the files (import them together)")
    for article in done["articles"]:
        click.echo(f"  {article['url']}: {article['snapshots_added']} added, "
                   f"{article['versions']} version(s) now")


@main.command()
@click.option("--prefect-port", default=4200, show_default=True, help="Port of the Prefect server.")
@click.option("--web-port", default=8000, show_default=True, help="Port of the web UI and API.")
def up(prefect_port: int, web_port: int) -> None:
    """Start on 127.0.0.1 a Prefect server, the deployments, a worker and the web server."""
    from .stack import up as start

    with clear_errors():
        start(env_settings(), prefect_port=prefect_port, web_port=web_port,
              echo=click.echo)
    click.echo("`palimpsest down` stops them all.")


@main.command()
def down() -> None:
    """Stop what `palimpsest up` started."""
    from .stack import down as stop

    with clear_errors():
        if not stop(env_settings(), echo=click.echo):
            click.echo("nothing was running")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the web UI and JSON API (write actions need PALIMPSEST_TOKEN)."""
    import uvicorn

    from .web import create_app

    with clear_errors():
        app = create_app(env_settings())
    uvicorn.run(app, host=host, port=port, log_level="warning")
