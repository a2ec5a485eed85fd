"""Article files: which files in a folder hold articles, and whether one holds a feed or a single post.

The one place that decides "feed or post?" for a file: a feed suffix (.xml, .rss, .atom) or content that
sniffs as RSS/Atom makes it a feed, anything else is read as one post. Pure like the rest of bot/sources:
callers read the bytes (and enforce their own size limits); nothing here opens files or touches the database.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from bot.sources.types import FeedParseError, ParsedFeed, RawArticle

__all__ = ["FEED_SUFFIXES", "POST_SUFFIXES", "is_article_file", "parse_article_file", "parse_feed_or_post"]

POST_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom"})
_ARTICLE_SUFFIXES = POST_SUFFIXES | FEED_SUFFIXES


def is_article_file(path: Path) -> bool:
    """Whether a file met while walking a folder is read for articles: a post or feed suffix (any case) and
    not a hidden name (one starting with ".").

    Judges the name only, without touching the file system: callers check that it is a regular file and skip
    hidden folders themselves. A file named explicitly by the user is read whatever its name.
    """
    return not path.name.startswith(".") and path.suffix.lower() in _ARTICLE_SUFFIXES


def parse_feed_or_post(
    data: bytes, *, origin: str, suffix: str, default_tz: tzinfo
) -> ParsedFeed | RawArticle:
    """Parse a file's bytes as an RSS/Atom feed when `suffix` (e.g. ".XML", any case) is a feed suffix or the
    bytes look like a feed, otherwise as one post.

    A feed comes back whole (callers use its title and link, e.g. as the articles' publisher) and always has
    at least one entry. Raises SourceError subclasses: FeedParseError for an unusable feed, including
    "feed has no entries"; PostParseError for an unreadable post. `origin` names the file in errors.
    """
    # the parsers (and their YAML, HTML, date and charset libraries) load with the first file parsed: the
    # inbox job and every command use `is_article_file`, and most never parse a file
    from bot.sources.feeds import looks_like_feed, parse_feed
    from bot.sources.posts import parse_post

    if suffix.lower() in FEED_SUFFIXES or looks_like_feed(data):
        feed = parse_feed(data, origin=origin, default_tz=default_tz)
        if not feed.entries:
            raise FeedParseError(origin, "feed has no entries")
        return feed
    return parse_post(data, origin=origin, default_tz=default_tz)


def parse_article_file(data: bytes, *, origin: str, suffix: str, default_tz: tzinfo) -> list[RawArticle]:
    """The articles in a file's bytes: a feed's entries (never none) or a list of one post.

    Same rule and errors as `parse_feed_or_post`, for callers that do not need the feed's own title and link.
    """
    document = parse_feed_or_post(data, origin=origin, suffix=suffix, default_tz=default_tz)
    return document.entries if isinstance(document, ParsedFeed) else [document]
