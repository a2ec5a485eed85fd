"""Where articles come from: Markdown posts, RSS/Atom feeds (parsing and HTTP fetching) and OPML lists.

Parsing here is pure; fetching takes an injected aiohttp.ClientSession. Nothing here touches the database.

Errors (all one line, `str(err)` = "where: reason"):

    SourceError
     ├── PostParseError     parse_post
     ├── FeedParseError     parse_feed
     ├── FeedFetchError     fetch_feed
     └── OpmlError          parse_opml
"""

from bot.sources.charset import decode_document
from bot.sources.feeds import FetchResult, HostLimiter, fetch_feed, looks_like_feed, parse_feed
from bot.sources.opml import OpmlFeed, parse_opml, render_opml
from bot.sources.posts import parse_post
from bot.sources.types import (
    BodyFormat,
    FeedFetchError,
    FeedParseError,
    OpmlError,
    ParsedFeed,
    PostParseError,
    RawArticle,
    SourceError,
)

__all__ = [
    "BodyFormat",
    "FeedFetchError",
    "FeedParseError",
    "FetchResult",
    "HostLimiter",
    "OpmlError",
    "OpmlFeed",
    "ParsedFeed",
    "PostParseError",
    "RawArticle",
    "SourceError",
    "decode_document",
    "fetch_feed",
    "looks_like_feed",
    "parse_feed",
    "parse_opml",
    "parse_post",
    "render_opml",
]
