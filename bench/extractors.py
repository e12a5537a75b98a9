"""The two extractors the extraction benchmark compares, as the scorer calls them."""

from __future__ import annotations

from typing import Any


def palimpsest_fields(html: str, url: str | None) -> dict[str, Any]:
    from palimpsest.extract import extract

    article = extract(html, url=url)
    return {"articleBody": "\n".join(p.removeprefix("## ") for p in article.body),
            "headline": article.headline, "datePublished": article.published,
            "authors": list(article.authors), "tags": list(article.tags)}


def trafilatura_fields(html: str, url: str | None) -> dict[str, Any]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return {}
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    return {"articleBody": data.get("text") or "", "headline": data.get("title"),
            "datePublished": data.get("date"), "authors": data.get("author"),
            "tags": data.get("tags") or data.get("categories")}
