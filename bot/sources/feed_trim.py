"""A feed listing far more entries than a fetch keeps, cut to its newest ones before feedparser reads it.

feedparser spends about a third of a millisecond per entry, holding the GIL: the 50,000 entries of a 5 MB
feed took 17 s here, during which a stop waited and the event loop crawled. expat reads the same bytes in a
fraction of that. So when a document has more entries than FETCH_MAX_ITEMS, one expat pass finds each
entry's byte span and date, and feedparser gets the document with only the newest `max_items` entries left
in it (in their order). The choice is the one `_newest` in bot.sources.feeds makes: by date, undated
entries last.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from bot.sources.dates import parse_date

# RSS <item> (under <channel>, or under <rdf:RDF> in RSS 1.0) and Atom <entry>, with any namespace prefix
_ENTRY_NAMES = frozenset({"item", "entry"})
# the dates feedparser reads as an entry's published/updated time (pubDate, dc:date, atom:published, ...)
_DATE_NAMES = frozenset({"pubDate", "published", "updated", "date", "created", "issued", "modified"})
_ENTRY_START = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True)
class _Entry:
    start: int
    end: int = -1
    date_text: str | None = None


@dataclass(slots=True)
class _Scan:
    """What one expat pass over the document saw: each complete top-level entry, and the open elements."""

    entries: list[_Entry] = field(default_factory=list)
    open_names: list[str] = field(default_factory=list)
    level: int = -1  # the depth entries sit at, from the first one on
    in_entry: bool = False
    date_parts: list[str] | None = None  # text of a date element of the entry being read


def newest_entries_only(text: str, *, max_items: int, default_tz: tzinfo) -> str:
    """`text` (a UTF-8 feed document) with only its `max_items` newest entries; `text` itself when it has no
    more than that, or when expat cannot find more than that before the document goes wrong."""
    data = text.encode("utf-8")
    if len(_ENTRY_START.findall(data)) <= max_items:  # the common case costs one regex pass
        return text
    scan, broken = _scan(data)
    entries = [e for e in scan.entries if e.end > 0]
    if len(entries) <= max_items:
        return text

    def date_of(entry: _Entry) -> datetime:
        return parse_date(entry.date_text, default_tz=default_tz) or _OLDEST

    ranked = sorted(range(len(entries)), key=lambda i: date_of(entries[i]), reverse=True)
    kept = [entries[i] for i in sorted(ranked[:max_items])]
    head = data[: entries[0].start]
    if broken:
        # past the error the bytes are not XML feedparser could use whole; close what was open instead
        ancestors = scan.open_names[: scan.level]
        tail = "".join(f"</{name}>" for name in reversed(ancestors)).encode()
    else:
        tail = data[entries[-1].end :]
    body = b"\n".join(data[e.start : e.end] for e in kept)
    return (head + body + b"\n" + tail).decode("utf-8")


def _scan(data: bytes) -> tuple[_Scan, bool]:
    """The entries of `data` and whether expat stopped at an error."""
    scan = _Scan()
    parser = xml.parsers.expat.ParserCreate(encoding="utf-8")
    # with a DTD assumed, entities no one declared (&nbsp; in RSS is common) are skipped instead of fatal;
    # no external entity is ever loaded (there is no handler for them)
    parser.UseForeignDTD(True)

    def start(name: str, _attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        depth = len(scan.open_names)
        if not scan.in_entry:
            # entries sit at one depth (an <item> deeper down is something else's)
            if local in _ENTRY_NAMES and scan.level in (-1, depth):
                scan.level, scan.in_entry = depth, True
                scan.entries.append(_Entry(start=parser.CurrentByteIndex))
        elif depth == scan.level + 1 and local in _DATE_NAMES and scan.entries[-1].date_text is None:
            scan.date_parts = []
        scan.open_names.append(name)

    def end(_name: str) -> None:
        scan.open_names.pop()
        if not scan.in_entry:
            return
        depth = len(scan.open_names)
        if scan.date_parts is not None and depth == scan.level + 1:
            scan.entries[-1].date_text = "".join(scan.date_parts).strip()
            scan.date_parts = None
        elif depth == scan.level:
            # the index is where the end tag (or the empty element) starts; the entry ends after its '>'
            scan.entries[-1].end = data.index(b">", parser.CurrentByteIndex) + 1
            scan.in_entry = False

    def characters(text: str) -> None:
        if scan.date_parts is not None:
            scan.date_parts.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError:
        return scan, True
    return scan, False
