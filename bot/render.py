"""Articles and digests -> Telegram HTML: lists of escaped chunks, each within Telegram's size limits.

Pure: no I/O, no settings, no clock and no human-language words. Headers, labels and the time zone come from
the callers, who own translations; everything dynamic is escaped here.

Telegram facts this module relies on:
- messages go out with parse_mode=HTML; only <b>, <i>, <u>, <s>, <a href>, <code>, <pre>, <blockquote> and
  <tg-spoiler> are allowed, and in text only `<`, `>`, `&` (plus `"` inside attribute values) need escaping;
- a message text holds at most 4096 and a photo caption at most 1024 UTF-16 code units, counted after entity
  parsing. We count the escaped HTML instead (`&amp;` is 5 units here, 1 for Telegram) - stricter than
  necessary, hence always safe;
- a hashtag is '#' followed by letters, digits and underscores with at least one letter;
- a message keeps the formatting of its first 100 entities only (bold, links, hashtags...): the rest show as
  plain text, so a long list's later items lost their links. Chunks are cut to stay within that too.

Every chunk returned is well-formed on its own: chunks are cut between items, never inside an item, a tag or
an entity (`split_text`, for arbitrary HTML, closes and reopens the tags it has to cut through).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache

from bot.publishers import site_link
from bot.telegram_html import (
    CAPTION_LIMIT,
    MESSAGE_ENTITY_LIMIT,
    MESSAGE_LIMIT,
    escape,
    split_text,
    utf16_len,
)
from bot.urls import is_http_url
from readmodels import ArticleView, DigestGroup

__all__ = [
    "format_local_time",
    "hashtag",
    "render_caption",
    "render_digest",
    "render_item",
    "render_items",
]

# One item never takes more than this, so it fits in a message together with a header or a digest heading.
_ITEM_MAX_UNITS = 3500
_TITLE_MAX_CHARS = 256
# a title of quotes escapes to six times its length; this bounds what a hostile one can take from the summary
_TITLE_MAX_UNITS = 768
_SUMMARY_MAX_CHARS = 1500
_PUBLISHER_MAX_CHARS = 128
_PUBLISHER_MAX_UNITS = 256
# longer links are rendered as plain titles: they would eat the room of the summary
_HREF_MAX_UNITS = 1024
_TAGS_MAX_UNITS = 512
_HASHTAG_MAX_CHARS = 64
_TOPIC_MAX_CHARS = 64

_ELLIPSIS = "…"
_META_SEPARATOR = " · "
_BLOCK_SEPARATOR = "\n\n"
_UNDERSCORES = re.compile(r"_+")
_BLANK_LINES = re.compile(r"\n\s*\n")


def hashtag(tag: str) -> str | None:
    """'#' + tag made into something Telegram recognises as one hashtag, or None when that is impossible.

    Anything but letters, digits and underscores becomes '_' (runs collapsed, ends stripped), the body
    is cut to 64 characters, and a tag without any letter ('2022', '+++') gives None since Telegram
    would not link it.
    """
    chars: list[str] = []
    for ch in unicodedata.normalize("NFC", tag):
        category = unicodedata.category(ch)
        if category[0] == "L" or category == "Nd":
            chars.append(ch)
        elif category[0] == "M" and chars and chars[-1] != "_":
            # vowel signs and other combining marks are part of the letter before them (Hindi, Thai)
            chars.append(ch)
        else:
            chars.append("_")
    body = _UNDERSCORES.sub("_", "".join(chars)).strip("_")
    body = body[:_HASHTAG_MAX_CHARS].rstrip("_")
    if not any(unicodedata.category(ch)[0] == "L" for ch in body):
        return None
    return "#" + body


def format_local_time(when: datetime, tz: tzinfo) -> str:
    """'2022-09-03 12:44' in the given time zone. A naive value is taken as UTC, as the database stores it."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    local = when.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


# --- one item ---------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _summary_lines(text: str) -> str:
    # blank lines would make one item look like two, and split_text would treat them as block boundaries
    return "\n".join(line for line in (_one_line(part) for part in text.splitlines()) if line)


def _escaped_units(ch: str) -> int:
    if ch in "<>&\"'":
        return len(escape(ch))
    return 2 if ord(ch) > 0xFFFF else 1


def _cut(text: str, *, max_chars: int, max_units: int) -> str:
    """Text cut (with '…') so it has at most max_chars characters and its escaped form at most max_units.

    Cutting the raw text before escaping means a cut can never fall inside an entity.
    """
    if len(text) <= max_chars and utf16_len(escape(text)) <= max_units:
        return text
    used = 0
    end = 0
    # keep one character and one unit for the ellipsis
    for ch in text[: max(max_chars - 1, 0)]:
        units = _escaped_units(ch)
        if used + units > max_units - 1:
            break
        used += units
        end += 1
    kept = text[:end].rstrip()
    return kept + _ELLIPSIS if kept else ""


def item_link(view: ArticleView) -> str | None:
    """Where the item opens: its own link, or else (a post without one) its publisher's site when known."""
    return view.link or site_link(view.publisher)


def safe_link(link: str | None) -> str | None:
    """The link as it is when it is an absolute http(s) URL a button or a photo may carry; else None."""
    if not link or _safe_href(link) is None:
        return None
    return link.strip()


def _safe_href(link: str | None) -> str | None:
    """The escaped href for an absolute http(s) link; None for anything else
    (javascript:, data:, relative).
    """
    if not link:
        return None
    link = link.strip()
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in link):
        return None
    if not is_http_url(link):
        return None
    href = escape(link)
    return href if utf16_len(href) <= _HREF_MAX_UNITS else None


def _hashtag_line(tags: Iterable[str], max_units: int = _TAGS_MAX_UNITS) -> str:
    seen: set[str] = set()
    kept: list[str] = []
    used = 0
    for tag in tags:
        made = hashtag(tag)
        if made is None or made.casefold() in seen:
            continue
        units = utf16_len(made) + (1 if kept else 0)
        if used + units > max_units:
            continue
        seen.add(made.casefold())
        kept.append(made)
        used += units
    return " ".join(kept)


def _repeats_title(summary: str, title: str) -> bool:
    """True for title-only items, whose summary is the title itself or the title cut with '…'."""
    summary, title = _one_line(summary).casefold(), _one_line(title).casefold()
    if summary == title:
        return True
    return summary.endswith(_ELLIPSIS) and title.startswith(summary[:-1].rstrip())


@dataclass(frozen=True, slots=True)
class _Shape:
    """How much of an item to keep; tried from the richest to the barest until the fixed lines fit."""

    linked: bool
    tags: bool
    title_chars: int
    title_units: int
    publisher_chars: int
    publisher_units: int


_SHAPES = (
    _Shape(True, True, _TITLE_MAX_CHARS, _TITLE_MAX_UNITS, _PUBLISHER_MAX_CHARS, _PUBLISHER_MAX_UNITS),
    _Shape(True, False, _TITLE_MAX_CHARS, _TITLE_MAX_UNITS, _PUBLISHER_MAX_CHARS, _PUBLISHER_MAX_UNITS),
    _Shape(False, False, _TITLE_MAX_CHARS, _TITLE_MAX_UNITS, _PUBLISHER_MAX_CHARS, _PUBLISHER_MAX_UNITS),
    _Shape(False, False, 64, 128, 32, 64),
)


def _render_item(
    view: ArticleView, *, tz: tzinfo, index: int | None, budget: int, tags: bool = True
) -> str:
    also = tuple((a.publisher, a.link) for a in view.also)
    shown_tags = tuple(view.tags) if tags else ()
    text = _item_text(view.title, view.publisher, item_link(view), shown_tags, view.summary, also)
    return _item_html(text, format_local_time(view.published_at or view.listed_at, tz), index, budget)


# One day's articles are in many chats' digests: what an item shows, and its parts cut to the room left, are
# worked out once per article (the caches are keyed by everything their results depend on).


@dataclass(frozen=True, slots=True)
class _ItemText:
    """What an item shows, whatever its number, time and room."""

    title: str
    publisher: str
    href: str | None
    tags: str
    summary: str
    also: str  # the story's other publishers as HTML links, or ""


_ALSO_MAX_PUBLISHERS, _ALSO_NAME_CHARS = 5, 24


@lru_cache(maxsize=4096)
def _item_text(
    title: str,
    publisher: str,
    link: str | None,
    tags: tuple[str, ...],
    summary: str,
    also: tuple[tuple[str, str | None], ...] = (),
) -> _ItemText:
    shown_title = _one_line(title) or _ELLIPSIS
    return _ItemText(
        title=shown_title,
        publisher=_one_line(publisher),
        href=_safe_href(link),
        tags=_hashtag_line(tags),
        summary="" if _repeats_title(summary, shown_title) else _summary_lines(summary),
        also=_also_line(_one_line(publisher), also),
    )


def _also_line(publisher: str, also: tuple[tuple[str, str | None], ...]) -> str:
    """"↳ 快科技, cnBeta": each other publisher of the story once (not the item's own), linked to its report;
    past _ALSO_MAX_PUBLISHERS, how many more."""
    first: dict[str, str | None] = {}
    for name, link in also:
        name = _one_line(name)
        if name and name != publisher and name not in first:
            first[name] = _safe_href(link)
    if not first:
        return ""
    shown = []
    for name, href in list(first.items())[:_ALSO_MAX_PUBLISHERS]:
        label = _escaped_cut(name, _ALSO_NAME_CHARS, 6 * _ALSO_NAME_CHARS)
        shown.append(f'<a href="{href}">{label}</a>' if href else label)
    more = len(first) - _ALSO_MAX_PUBLISHERS
    return "↳ " + ", ".join(shown) + (f" +{more}" if more > 0 else "")


def _item_html(text: _ItemText, when: str, index: int | None, budget: int) -> str:
    title, publisher, href, tags, summary = text.title, text.publisher, text.href, text.tags, text.summary
    prefix = f"{index}. " if index is not None else ""

    for shape in _SHAPES:
        shown_title = _escaped_cut(title, shape.title_chars, shape.title_units)
        if shape.linked and href is not None:
            shown_title = f'<a href="{href}">{shown_title}</a>'
        shown_publisher = _escaped_cut(publisher, shape.publisher_chars, shape.publisher_units)
        meta = f"{shown_publisher}{_META_SEPARATOR}{when}" if shown_publisher else when
        lines = [f"{prefix}<b>{shown_title}</b>", f"<i>{meta}</i>"]
        tail = [tags] if shape.tags and tags else []
        fixed = utf16_len("\n".join(lines + tail))
        if fixed <= budget:
            if text.also and fixed + 1 + utf16_len(text.also) <= budget:
                lines.append(text.also)  # the other reports of the story, when they fit
                fixed += 1 + utf16_len(text.also)
            break
    else:
        raise ValueError(f"an item does not fit in {budget} UTF-16 code units")

    # the summary takes what is left, less the newline before it
    shown_summary = _escaped_cut(summary, _SUMMARY_MAX_CHARS, budget - fixed - 1)
    if shown_summary:
        lines.append(shown_summary)
    return "\n".join(lines + tail)


@lru_cache(maxsize=8192)
def _escaped_cut(text: str, max_chars: int, max_units: int) -> str:
    return escape(_cut(text, max_chars=max_chars, max_units=max_units))


def render_item(view: ArticleView, *, tz: tzinfo, index: int | None = None) -> str:
    """One article as Telegram HTML, always small enough to share a message with a header:

        {index}. <b><a href="LINK">TITLE</a></b>
        <i>PUBLISHER · 2022-09-03 12:44</i>
        ↳ <a href="L">快科技</a>, cnBeta  (the story's other publishers, when there are and they fit)
        SUMMARY            (left out when it only repeats the title)
        #tag #tag          (left out when no tag makes a valid hashtag)

    The title is cut to 256 and the summary to 1,500 characters, and further if escaping would make the item
    too long; links other than absolute http(s) ones are not linked.
    """
    return _render_item(view, tz=tz, index=index, budget=_ITEM_MAX_UNITS)


def render_caption(view: ArticleView, *, tz: tzinfo, limit: int = CAPTION_LIMIT) -> str:
    """The item as a photo caption within `limit` units: the summary is cut (before escaping) to fit."""
    return _render_item(view, tz=tz, index=None, budget=limit)


# --- lists and digests ------------------------------------------------------------------------------------


def entity_count(text_html: str) -> int:
    """At least the entities Telegram makes of this HTML: its tags, and every '#' before a letter or digit
    (a hashtag; one inside a link's address counts too, which only errs on the safe side)."""
    return len(_OPENING_TAG.findall(text_html)) + len(_HASH.findall(text_html))


_OPENING_TAG = re.compile(r"<[A-Za-z]")
_HASH = re.compile(r"#\w")


def _pack(
    blocks: Iterable[str],
    *,
    limit: int,
    separator: str = _BLOCK_SEPARATOR,
    max_entities: int = MESSAGE_ENTITY_LIMIT,
) -> list[str]:
    """Blocks joined by separator into as few chunks as possible, in order; each block must fit on its own.
    A chunk holds at most `max_entities` entities, unless one block alone has more.

    Greedy filling is optimal here: with the order fixed, closing a chunk early never saves one later.
    """
    chunks: list[str] = []
    current = ""
    current_units = current_entities = 0
    separator_units = utf16_len(separator)
    for block in blocks:
        units = utf16_len(block)
        entities = entity_count(block)
        if units > limit:
            raise ValueError(f"a block of {units} UTF-16 code units does not fit in {limit}")
        fits = current_units + separator_units + units <= limit
        if current and fits and current_entities + entities <= max_entities:
            current += separator + block
            current_units += separator_units + units
            current_entities += entities
            continue
        if current:
            chunks.append(current)
        current, current_units, current_entities = block, units, entities
    if current:
        chunks.append(current)
    return chunks


def _header_blocks(header: str | None, limit: int) -> list[str]:
    if not header:
        return []
    return [header] if utf16_len(header) <= limit else split_text(header, limit=limit)


def render_items(
    views: Sequence[ArticleView],
    *,
    tz: tzinfo,
    header: str | None = None,
    numbered: bool = False,
    start: int = 1,
    limit: int = MESSAGE_LIMIT,
) -> list[str]:
    """The header, then the items separated by blank lines, in as few chunks of at most
    `limit` units as possible.

    `header` is HTML and is NOT escaped here: the caller escapes whatever it puts in it. Chunks are cut only
    between items. No views: just the header, or nothing at all.
    """
    budget = min(_ITEM_MAX_UNITS, limit)
    items = (
        _render_item(view, tz=tz, index=start + i if numbered else None, budget=budget)
        for i, view in enumerate(views)
    )
    return _pack([*_header_blocks(header, limit), *items], limit=limit)


def _topic_heading(topic: str, *, plain: bool = False) -> str:
    made = None if plain else hashtag(topic)
    if made is None:
        made = escape(_cut(_one_line(topic), max_chars=_TOPIC_MAX_CHARS, max_units=6 * _TOPIC_MAX_CHARS))
    return f"<b>{made}</b>"


def render_digest(
    groups: Sequence[DigestGroup],
    *,
    tz: tzinfo,
    header: str,
    limit: int = MESSAGE_LIMIT,
    first_limit: int | None = None,
    first_number: int = 1,
) -> list[str]:
    """The header (HTML, escaped by the caller), then each group's heading (its tag, as a hashtag; none for a
    group labelled "") and its items, numbered across the whole digest from `first_number` (a later page
    goes on from the one before, as its Open buttons do); chunked like `render_items`. Items
    show no tags of their own: a group's tag is shown once, on its heading. A heading always travels with its
    first item; empty groups are left out.

    `first_limit`: the first chunk holds just the header and the first item within that many units (a photo
    caption, CAPTION_LIMIT), the rest follow in chunks of `limit`.
    """
    blocks: list[str] = []
    number = first_number
    for group in groups:
        if not group.items:
            continue
        heading = _topic_heading(group.topic, plain=group.plain) + "\n" if group.topic else ""
        room = first_limit if first_limit is not None and not blocks else limit
        if not blocks and header:
            room -= utf16_len(header) + utf16_len(_BLOCK_SEPARATOR)
        first_budget = min(_ITEM_MAX_UNITS, room - utf16_len(heading))
        first = _render_item(group.items[0], tz=tz, index=number, budget=first_budget, tags=False)
        blocks.append(heading + first)
        number += 1
        for view in group.items[1:]:
            item = _render_item(view, tz=tz, index=number, budget=min(_ITEM_MAX_UNITS, limit), tags=False)
            blocks.append(item)
            number += 1
    if first_limit is not None and blocks:
        caption = _BLOCK_SEPARATOR.join([*([header] if header else []), blocks[0]])
        return [caption, *_pack(blocks[1:], limit=limit)]
    return _pack([*_header_blocks(header, limit), *blocks], limit=limit)
