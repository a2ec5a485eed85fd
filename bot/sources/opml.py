"""OPML subscription lists: read the feeds out of one, and write one that reads back the same.

Pure: bytes/str in and out, OpmlError (one line) for a file that is not usable OPML. Subscribing
and storing are the subscription service's job.

Documents with a DOCTYPE or ENTITY declaration are refused: OPML never needs them, and they are how
entity-expansion attacks arrive. defusedxml refuses them inside the XML parser, which reads the document's own
encoding: a scan of the bytes for "<!DOCTYPE" once let a UTF-16 file's entities through.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from bot.sources.types import OpmlError
from bot.urls import is_http_url


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription. `category` is the text of the enclosing outline, if any."""

    url: str
    title: str | None
    html_url: str | None
    category: str | None


def _attr(element: ET.Element, *names: str) -> str | None:
    # Attribute names vary in case between exporters (xmlUrl, xmlurl, XMLURL).
    lowered = {k.lower(): v for k, v in element.attrib.items()}
    for name in names:
        value = (lowered.get(name.lower()) or "").strip()
        if value:
            return " ".join(value.split())
    return None


def _walk(element: ET.Element, category: str | None, out: list[OpmlFeed], seen: set[str]) -> None:
    for outline in element.findall("outline"):
        xml_url = _attr(outline, "xmlUrl")
        label = _attr(outline, "text", "title")
        if xml_url:
            if is_http_url(xml_url) and xml_url not in seen:
                seen.add(xml_url)
                html_url = _attr(outline, "htmlUrl")
                title = _attr(outline, "title", "text")
                out.append(
                    OpmlFeed(
                        url=xml_url,
                        # render_opml writes the URL as text when there is no title.
                        title=title if title != xml_url else None,
                        html_url=html_url if html_url and is_http_url(html_url) else None,
                        category=category,
                    )
                )
            # A feed outline's children (rare) belong to the same category as the feed.
            _walk(outline, category, out, seen)
        else:
            # A folder: its text names the category of what it contains; the innermost folder wins.
            _walk(outline, label or category, out, seen)


def parse_opml(data: bytes, *, origin: str) -> list[OpmlFeed]:
    """Return the http(s) feeds listed in an OPML document, in document order, without duplicates.

    Raises OpmlError for a DOCTYPE/ENTITY declaration, XML that does not parse, or a root that is
    not <opml> with a <body>.
    """
    if not data.strip():
        raise OpmlError(origin, "empty file")
    try:
        root = defused_fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise OpmlError(origin, "DOCTYPE/ENTITY declarations are not allowed in OPML") from None
    except ET.ParseError as exc:
        raise OpmlError(origin, f"not XML: {' '.join(str(exc).split())}") from None
    if root.tag.lower() != "opml":
        raise OpmlError(origin, f"root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise OpmlError(origin, "no <body> element")
    feeds: list[OpmlFeed] = []
    _walk(body, None, feeds, set())
    return feeds


def _outline(parent: ET.Element, feed: OpmlFeed) -> None:
    attrs = {"type": "rss", "text": feed.title or feed.url}
    if feed.title:
        attrs["title"] = feed.title
    attrs["xmlUrl"] = feed.url
    if feed.html_url:
        attrs["htmlUrl"] = feed.html_url
    ET.SubElement(parent, "outline", attrs)


def render_opml(feeds: Iterable[OpmlFeed], *, title: str = "newsbot subscriptions", now: datetime) -> str:
    """Write OPML 2.0: uncategorised feeds first, then one folder outline per category (first-seen order).

    `now` must be timezone-aware; it becomes <dateCreated> in RFC 822 form.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("render_opml needs a timezone-aware `now`")
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")

    folders: dict[str, list[OpmlFeed]] = {}
    for feed in feeds:
        if feed.category:
            folders.setdefault(feed.category, []).append(feed)
        else:
            _outline(body, feed)
    for category, members in folders.items():
        folder = ET.SubElement(body, "outline", {"text": category, "title": category})
        for feed in members:
            _outline(folder, feed)

    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
