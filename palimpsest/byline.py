"""Person names out of byline text, in the languages of the news we track.

Bylines come with everything around them: "By", "Von", "Interview:",
dates and times, "PhillyVoice Staff", "@handles", job titles, "im Gespräch
mit", degrees after a comma. :func:`names` keeps only the names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .text import clean

MONTHS = (r"jan|feb|m[aä]r|apr|ma[iy]|jun|jul|aug|sep|o[ck]t|nov|de[cz]|janv|févr|avr|juil"
          r"|sept|déc|ene|abr|ago|dic|mär|okt|dez")
WEEKDAYS = (r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|montag|dienstag|mittwoch|donnerstag"
            r"|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
            r"|lunes|martes|miércoles|jueves|viernes|sábado|domingo")
#: Where the names end: a date, a time, "am 21. April", "Le 17/02", "Hace 13 horas",
#: "Published", a job title...
TAIL = re.compile(
    r"\s(?:am|le|on|el|il|em|du|vom)\s+\d.*"
    r"|\s(?:hace|published|updated|posted|veröffentlicht|aktualisiert"
    r"|publié|mis à jour|publicado|actualizado|redakteur\w*|korrespondent\w*|reporter"
    r"|kategorien?|categor\w+|tiempo de lectura|min read)\b.*"
    r"|\s*\d{1,2}[./-]\d{1,2}(?:[./-]\d{2,4})?\b.*|\s*\d{1,2}:\d{2}.*"
    rf"|\s+\d{{1,2}}\.?\s+(?:{MONTHS})\w*\.?\s.*|\s+(?:{MONTHS})\w*\.?\s+\d{{1,2}}\b.*"
    r"|\s+\d{4}\b.*|\s+https?://\S+.*"
    rf"|\s+(?:(?:am|on|le|el)\s+)?(?:{WEEKDAYS})\b.*",
    re.IGNORECASE)
PREFIX = re.compile(
    r"^(?:(?:written |words |text |texte |photos? |reported )?by|von|par|por|di|de|door|av|af"
    r"|interview|auteur|autor|author|autorin|texte?|herr|frau|mr\.?|ms\.?|mrs\.?"
    r"|redaktion|reportage|责任编辑|编辑|作者|记者)(?:\s*[:：]\s*|\s+)", re.IGNORECASE)
#: "Disko Von Ernst Lohoff": a section name before the byline proper
LATE_PREFIX = re.compile(r"^(?:\S+\s+){1,3}?(?=(?:by|von|par|por)\s+\S)", re.IGNORECASE)
#: Credits that name no author of the text
CREDIT = re.compile(r"^(?:foto|photo|bild|image|fotos|photos|illustration|grafik)s?\s*[:：]",
                    re.IGNORECASE)
SPLIT = re.compile(
    r"\s+-\s+|\s*(?:,|;|\||&|\band\b|\bund\b|\by\b|\bet\b|\be\b|\bmit\b|\bwith\b"
    r"|\bim gespräch mit\b|\bin conversation with\b)\s*", re.IGNORECASE)
#: Trailing words that are not part of a name: roles, affiliations, verbs
SUFFIX = re.compile(
    r"\s+(?:says|said|writes|wrote|staff(?: writer| reporter)?|contributor|correspondent"
    r"|editor|for the .*|for .{2,40}|\(.*\)|-+)$|\s*@\w+.*$"
    # punctuation, but not the full stop of an initial or of "Jr." ("Nicolas Gutierrez C.")
    r"|(?<!\b\w)(?<!\bjr)(?<!\bsr)[\s,.:-]+$", re.IGNORECASE)
DEGREES = re.compile(r"^(?:phd|ph\.d\.?|md|m\.d\.|ms|mph|rd|rdn|msc|ma|ba|bsc|jr\.?|sr\.?"
                     r"|dr\.?|prof\.?|cscs|ld|cde)$", re.IGNORECASE)
NOT_NAMES = re.compile(r"^(?:no author|unknown|admin|redaktion|editorial|staff|agencies"
                       r"|anonymous|guest|null|none|auteurs?|authors?|autor(?:en|in)?|stand"
                       r"|veröffentlicht|published|updated"
                       # a role after a comma: "Adam Aaronson, Staff Writer"
                       r"|(?:senior |chief |contributing |staff |freelance )?(?:writer|reporter"
                       r"|editor|correspondent|contributor|columnist)s?)$", re.IGNORECASE)
MAX_WORDS = 5
#: News agencies, named in a byline or credited in the text ("(dpa)")
AGENCIES = (r"dpa|afp|ap|reuters|kna|epd|sid|apa|efe|ansa|jiji|kyodo|xinhua|ddp|dts|ots")
AGENCY = re.compile(rf"(?:{AGENCIES})", re.IGNORECASE)


#: Quotation marks and separators at either end of a name: none of the name
EDGES = "'\"\u2018\u2019\u201c\u201d/|\u2014\u2013\u00b7\u2022 "


def names(texts: Iterable[str], *, sites: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """The person (or agency) names in ``texts``, in order, without duplicates."""
    found: dict[str, str] = {}
    for text in texts:
        for name in _split(text):
            if name.casefold() in sites or _letters(name) in {_letters(s) for s in sites}:
                continue
            found.setdefault(name.casefold(), name)
    return list(found.values())


def _split(text: str) -> Iterable[str]:
    text = clean(text)
    if text.startswith("[") and text.endswith("]"):  # a list printed as text: "['Redaktion']"
        text = text.strip("[]").replace("'", "").replace('"', "")
    if CREDIT.match(text):
        return
    text = PREFIX.sub("", LATE_PREFIX.sub("", text))
    text = TAIL.sub("", text)
    previous = ""
    for part in SPLIT.split(text):
        part = part.strip().strip(EDGES)  # "'Luana Patriolino", "Felix Eisenreich //"
        while (trimmed := PREFIX.sub("", SUFFIX.sub("", part)).strip()) != part:
            part = trimmed
        if _is_name(part) and not _dateline(previous, part, text):
            yield part
        previous = part


def _dateline(name: str, part: str, text: str) -> bool:
    """Whether ``part``, after ``name`` and a comma, is where that author
    wrote from ("Markus M. Haefliger, London, Beat Bumbacher"): one word,
    capitalized as a place is, not an agency ("Jane Doe, Reuters"), after a
    name of several."""
    return len(name.split()) > 1 and " " not in part and part.istitle() \
        and not AGENCY.fullmatch(part) and f"{name}, {part}" in text


def _is_name(part: str) -> bool:
    words = part.split()
    return (0 < len(words) <= MAX_WORDS and len(part) < 60 and not DEGREES.match(part)
            and not NOT_NAMES.match(part) and not any(c.isdigit() for c in part)
            and "://" not in part and any(c.isalpha() for c in part))


def _letters(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())
