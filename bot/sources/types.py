"""The value types every source produces and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

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


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed RSS/Atom document."""

    title: str
    link: str | None
    entries: list[RawArticle] = field(default_factory=list)


class SourceError(Exception):
    """Base of every source error. `str(err)` is one line saying what went wrong and where.

    SourceError
     ├── PostParseError     a Markdown post file cannot be read as an article
     ├── FeedParseError     a document is not a usable RSS/Atom feed
     ├── FeedFetchError     an HTTP fetch failed (status, timeout, size cap, redirects, network)
     └── OpmlError          an OPML file cannot be read
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class PostParseError(SourceError):
    pass


class FeedParseError(SourceError):
    pass


class FeedFetchError(SourceError):
    pass


class OpmlError(SourceError):
    pass
