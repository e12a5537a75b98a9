"""``palimpsest demo``: track a local news site while its newsroom edits it.

Three articles are captured, captured again after only the ticker, "Most
Read", ad ids and view counts changed (no new version), then edited the ways
newsrooms edit: a headline rewrite, a paragraph added, a number corrected;
then one story is taken down behind a "page not found" served with status 200.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .capture import Browser
from .config import Settings
from .demo_site import NewsSite
from .history import HistoryStore
from .pipeline import snapshot
from .storage import open_store
from .timeline import Style, render_diff, render_timeline


def _edits(site: NewsSite) -> list[tuple[str, str]]:
    """Apply the newsroom's edits; return (slug, what was done)."""
    bridge = site.articles["harbour-bridge-reopens"]
    site.edit(bridge.slug, headline="Harbour bridge reopens, months late and €40m over budget")
    drought = site.articles["drought-wheat-harvest"]
    site.edit(drought.slug, body=(*drought.body, (
        "Opposition parties called for a parliamentary inquiry into the ministry's "
        "handling of water allocations.")), modified="2026-11-27T09:30:00+01:00")
    museum = site.articles["museum-returns-bronzes"]
    site.edit(museum.slug, body=tuple(p.replace("32 bronzes", "36 bronzes") for p in museum.body),
              dek=museum.dek.replace("32", "36"))
    return [(bridge.slug, "headline rewritten"), (drought.slug, "paragraph added"),
            (museum.slug, "number corrected: 32 → 36 bronzes")]


def run_demo(settings: Settings, *, echo: Callable[[str], None] = print,
             style: Style | None = None, pause: float = 0.0) -> None:
    """Run the demo; its data goes to ``$PALIMPSEST_HOME/demo``, apart from real data."""
    home = settings.home / "demo"
    settings = settings.with_(
        home=home, db_url=f"sqlite:///{home / 'history.sqlite'}",
        storage_url=str(home / "warcs"), allow_private=True,
    )
    style = style or (lambda text, **_: text)
    store = open_store(settings.storage_url)
    started = time.monotonic()
    with HistoryStore(settings.db_url) as history, NewsSite() as site, \
            Browser(settings) as browser:
        echo(f"Demo news site running at {site.base_url}")
        urls = [site.url(slug) for slug in site.articles]

        def sweep(title: str) -> None:
            echo(f"\n== {title}")
            for url in urls:
                result = snapshot(url, settings=settings, browser=browser,
                                  store=store, history=history)
                changed = ", ".join(result.changed_fields) or "-"
                version = f"v{result.version}" if result.version else "-"
                echo(f"  {result.outcome:<11} {version:<3} changed: {changed:<20} {url}")
            time.sleep(pause)

        sweep("First capture of three articles")
        sweep("Again: only the ticker, Most Read, ads and view counts changed")
        for slug, what in _edits(site):
            echo(f"  newsroom edit on {slug}: {what}")
        sweep("After the newsroom's edits")
        site.edit("drought-wheat-harvest", not_found=True)
        echo("  newsroom takes drought-wheat-harvest down: its URL now serves a "
             "'page not found' with status 200")
        sweep("After the takedown: unpublished, not rewritten")
        echo("\n== Edit histories")
        for url in urls:
            echo(render_timeline(history.history(url)) + "\n")
        echo(f"== The correction, word by word (palimpsest history {urls[2]} --diff 2)")
        echo(render_diff(history.history(urls[2])["edits"][0], style=style))
    echo(f"Done in {time.monotonic() - started:.1f}s. WARCs in {settings.storage_url}, "
         f"history in {settings.db_url}")
    echo("Query one yourself:  PALIMPSEST_HOME=" f"{home} palimpsest history {urls[0]}")
