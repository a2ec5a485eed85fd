"""The value types every source produces and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.errors import SourceError as SourceError  # re-exported: the sources raise it and its subclasses

BodyFormat = Literal["html", "markdown", "text"]


@dataclass(frozen=True, slots=True)
class RawArticle:
    """One article as a source delivered it, before cleaning and summarizing.

    `published` is timezone-aware UTC or None; `origin` names the file or feed for error messages.
    """

    title: str
    body: str
    body_format: BodyFormat
    origin: str
    link: str | None = None
    guid: str | None = None
    author: str | None = None
    published: datetime | None = None
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    is_excerpt: bool = False
    # an undated item: the newest date its document knows (the feed's own, its newest dated entry), so
    # that an old feed's undated item is not listed as today's news
    dated_no_later_than: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed RSS/Atom document."""

    title: str
    link: str | None
    entries: list[RawArticle] = field(default_factory=list)


# SourceError is defined with the rest of newsbot's errors (bot/errors.py); the subclasses are
# the sources' own:
#   SourceError
#    ├── PostParseError     a Markdown post file cannot be read as an article
#    ├── FeedParseError     a document is not a usable RSS/Atom feed
#    ├── FeedFetchError     an HTTP fetch failed (status, timeout, size cap, redirects, network)
#    └── OpmlError          an OPML file cannot be read


class PostParseError(SourceError):
    pass


class FeedParseError(SourceError):
    pass


class FeedFetchError(SourceError):
    pass


class OpmlError(SourceError):
    pass
