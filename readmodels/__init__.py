"""Read models: the plain, immutable values the layers hand each other.

`db` builds them from rows, the services pass them on, `bot/render.py` and the command layer show them. They
live in a package of their own, outside `bot/` and `db/`, so that every layer can share them while `db/`
imports nothing from `bot/` and `bot/render.py` imports nothing from `db/`. Nothing here does I/O, and nothing
here imports anything of newsbot's: add a value here when two layers need it, not an ORM object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time


@dataclass(frozen=True, slots=True)
class AlsoCarried:
    """Another report of a listed article's story: another source's article, or its exact copy."""

    title: str
    link: str | None
    publisher: str
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArticleView:
    """What listings show of an article: the lead of its story, with the story's other reports in `also`."""

    id: int
    title: str
    link: str | None
    publisher: str
    published_at: datetime | None
    listed_at: datetime
    summary: str
    summary_method: str
    tags: list[str]
    image_url: str | None
    chars: int
    also: tuple[AlsoCarried, ...] = ()
    language: str = ""  # ISO 639-1, as detected at import


@dataclass(frozen=True, slots=True)
class DigestCandidate:
    """What choosing a digest's items reads of a story's lead: enough to match a chat's topics and muted
    words, keep its languages and publishers, rank and group. The full `ArticleView` is read for the items
    chosen only (a day's candidates are hundreds; a digest shows ten)."""

    id: int
    title: str
    summary: str
    summary_method: str
    tags: list[str]
    publisher: str
    language: str
    publishers: int  # how many publishers carry the story, the lead's own among them


@dataclass(frozen=True, slots=True)
class DigestGroup:
    """The articles of one topic in a digest."""

    topic: str
    items: list[ArticleView]
    plain: bool = False  # `topic` is a heading in words ("Other"), not a tag to show as a hashtag


@dataclass(frozen=True, slots=True)
class TagCount:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class FeedView:
    """A feed newsbot polls, with the health of its last fetches."""

    id: int
    name: str
    url: str
    site_url: str | None
    category: str | None
    active: bool
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_streak: int


@dataclass(frozen=True, slots=True)
class ChatContext:
    """Who is asking: the chat (private, group, supergroup or channel) and the user in it."""

    chat_id: int
    chat_kind: str
    user_id: int | None = None
    language_code: str | None = None
    chat_title: str | None = None
    message_id: int | None = None  # the command's message (a reply in a group answers it)
    thread_id: int | None = None  # the forum topic it came from (a reply goes there; None: General)
    as_chat: bool = False  # written on behalf of the chat itself: an anonymous administrator of a group

    @property
    def is_group(self) -> bool:
        """A group or channel, where what the chat gets is its administrators' to change."""
        return self.chat_kind in ("group", "supergroup", "channel")


@dataclass(frozen=True, slots=True)
class SubscriberView:
    """A chat as newsbot knows it: its settings and whether it wants the daily digest."""

    id: int
    chat_id: int
    kind: str
    title: str | None
    language: str | None  # the chat's own choice in /settings, else None
    telegram_language: str | None  # what the user's Telegram client says
    timezone: str
    digest_time: time
    digest_size: int
    wants_digest: bool
    active: bool
    last_digest_at: datetime | None
    article_languages: tuple[str, ...] = ()  # ISO 639-1 codes of the articles it gets; empty: every language
    silent: bool = False  # digests arrive without a notification sound
    link_previews: bool = False
    paused_until: datetime | None = None  # no digest before then
    settings_changed_at: datetime | None = None
    schedule_changed_at: datetime | None = None  # the digest time or time zone
    summary_language: str | None = None  # summaries in this language where the LLM made one; None: as written

    def reads(self, language: str) -> bool:
        """Whether the chat gets articles in `language`."""
        return not self.article_languages or language in self.article_languages


@dataclass(frozen=True, slots=True)
class ReaderFilter:
    """What a chat leaves out of every listing: muted words, other languages, publishers it dropped or does
    not follow."""

    mutes: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # ISO 639-1; empty: every language
    publishers: tuple[str, ...] = ()  # the ones it follows; empty: every publisher
    dropped: tuple[str, ...] = ()  # publishers it never wants to see
    summary_language: str | None = None  # show summaries in this language where there is one

    def keeps_source(self, view: ArticleView | DigestCandidate) -> bool:
        """Whether the item's language and publisher are wanted (muted words are matched elsewhere)."""
        if self.languages and view.language not in self.languages:
            return False
        if self.publishers and view.publisher not in self.publishers:
            return False
        return view.publisher not in self.dropped


@dataclass(frozen=True, slots=True)
class Following:
    """What a chat follows: topics (empty: everything), muted words, and the publishers it follows (empty:
    all) or dropped."""

    subscriber: SubscriberView
    topics: list[str]
    mutes: list[str]
    publishers: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def filter(self) -> ReaderFilter:
        return ReaderFilter(
            mutes=tuple(self.mutes),
            languages=self.subscriber.article_languages,
            publishers=tuple(self.publishers),
            dropped=tuple(self.dropped),
            summary_language=self.subscriber.summary_language,
        )


@dataclass(frozen=True, slots=True)
class BotStats:
    """Counts for /stats: subscribers, articles and deliveries."""

    subscribers: int
    active: int
    articles: int
    recent: int
    sent: int
    pending: int
    failed: int
    dead: int


@dataclass(frozen=True, slots=True)
class LlmStats:
    """LLM requests, outcomes and tokens over a period (`newsbot stats`)."""

    requests: int
    ok: int
    invalid: int
    errors: int
    timeouts: int
    rate_limited: int
    fallbacks: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    in_flight: int = 0  # admitted, outcome not written yet (counted in `requests`, with their most tokens)

    @property
    def failures(self) -> int:
        return self.requests - self.ok - self.in_flight


__all__ = [
    "AlsoCarried",
    "ArticleView",
    "BotStats",
    "ChatContext",
    "DigestCandidate",
    "DigestGroup",
    "FeedView",
    "Following",
    "LlmStats",
    "SubscriberView",
    "TagCount",
]


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def without_credentials(text: str) -> str:
    """`text` with the user:password@ part of every URL in it removed: a feed URL may carry credentials, and
    they are never shown (every FeedView is made through this) or logged."""
    return _USERINFO.sub(r"\1", text)
