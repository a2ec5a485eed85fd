"""Reading commands: /latest, /search, /digest, /topics, /sources, and their More and topic buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.base import Request, button_rows, say, text_reply
from bot.commands.buttons import (
    LATEST_MORE,
    MAX_PAGE_SIZE,
    SEARCH_MORE,
    SUBSCRIBE,
    TOPIC_DIGEST,
    ButtonCode,
    ButtonValue,
)
from bot.commands.replies import Reply
from bot.i18n import t
from bot.numbers import parse_bounded_int
from bot.render import format_local_time, render_digest, render_items
from bot.services.reading import Page, ReadingService
from bot.services.subscriptions import SubscriptionService, clean_topic
from bot.telegram_html import escape

LATEST_DEFAULT, LATEST_MAX = 5, MAX_PAGE_SIZE
SEARCH_PAGE = 5
SEARCH_MAX_CHARS = 100


class ReadingCommands:
    def __init__(
        self, *, reading: ReadingService, subscriptions: SubscriptionService, now: Callable[[], datetime]
    ) -> None:
        self._reading = reading
        self._subs = subscriptions
        self._now = now

    async def latest(self, req: Request) -> Reply:
        size = LATEST_DEFAULT
        if req.args:
            count = parse_bounded_int(req.args[0], low=1, high=LATEST_MAX)
            if count is None:
                return say(req, "bad_count", max=LATEST_MAX)
            size = count
        return await self._latest_page(req, size, 0)

    async def latest_more(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        offset, size = int(values[0]), int(values[1])
        return await self._latest_page(req, size, offset)

    async def _latest_page(self, req: Request, size: int, offset: int) -> Reply:
        size = max(1, min(size, LATEST_MAX))
        mutes = (await self._subs.following_by_id(req.subscriber)).mutes
        page = await self._reading.latest(limit=size, offset=offset, mutes=mutes)
        if not page.items:
            return say(req, "no_articles" if offset == 0 else "no_more")
        header = t(req.lang, "latest_header") if offset == 0 else None
        return self._page_reply(req, page, header, LATEST_MORE, size)

    async def search(self, req: Request) -> Reply:
        query = " ".join(req.args).strip()
        if not query:
            return say(req, "search_usage")
        return await self._search_page(req, query[:SEARCH_MAX_CHARS], 0)

    async def search_more(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        offset, query = int(values[0]), str(values[1])
        if not query:
            return say(req, "button_expired")
        return await self._search_page(req, query[:SEARCH_MAX_CHARS], offset)

    async def _search_page(self, req: Request, query: str, offset: int) -> Reply:
        mutes = (await self._subs.following_by_id(req.subscriber)).mutes
        page = await self._reading.search(query, limit=SEARCH_PAGE, offset=offset, mutes=mutes)
        if not page.items:
            return say(req, "search_none" if offset == 0 else "no_more", query=escape(query))
        header = t(req.lang, "search_header", query=escape(query)) if offset == 0 else None
        return self._page_reply(req, page, header, SEARCH_MORE, query)

    @staticmethod
    def _page_reply(
        req: Request, page: Page, header: str | None, more: ButtonCode, value: ButtonValue
    ) -> Reply:
        """A page of items; its More button carries the next offset and `value` (the page size or
        the query).
        """
        chunks = render_items(page.items, tz=ZoneInfo(req.subscriber.timezone), header=header)
        button = None
        if page.next_offset is not None:
            button = more.button(t(req.lang, "button_more"), page.next_offset, value)
        return Reply(chunks=chunks, buttons=button_rows([button], 1))

    async def topics(self, req: Request) -> Reply:
        counts = await self._reading.topics()
        buttons = button_rows([TOPIC_DIGEST.button(f"{c.name} ({c.count})", c.name) for c in counts], 3)
        if not buttons:
            return say(req, "topics_none")
        return text_reply(t(req.lang, "topics_header"), buttons=buttons)

    async def topics_button(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        return await self.topics(req)

    async def digest(self, req: Request) -> Reply:
        topic = clean_topic(" ".join(req.args)) if req.args else None
        return await self._digest(req, topic)

    async def topic_digest(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        topic = clean_topic(str(values[0]))
        if topic is None:
            return say(req, "button_expired")
        return await self._digest(req, topic)

    async def _digest(self, req: Request, topic: str | None) -> Reply:
        subscriber, lang = req.subscriber, req.lang
        following = await self._subs.following_by_id(subscriber)
        groups = await self._reading.digest(
            topic=topic,
            mutes=following.mutes,
            size=subscriber.digest_size,
            other_label=t(lang, "digest_other"),
        )
        if not groups:
            if topic:
                return say(req, "digest_topic_empty", topic=escape(topic))
            return say(req, "digest_empty")
        tz = ZoneInfo(subscriber.timezone)
        if topic:
            header = t(lang, "digest_topic_header", topic=escape(topic))
        else:
            header = t(lang, "digest_header", date=format_local_time(self._now(), tz)[:10])
        chunks = render_digest(groups, tz=tz, header=header)
        follow = None
        if topic and topic.casefold() not in {x.casefold() for x in following.topics}:
            follow = SUBSCRIBE.button(t(lang, "button_subscribe_topic", topic=topic), topic)
        return Reply(chunks=chunks, buttons=button_rows([follow], 1))

    async def sources(self, req: Request) -> Reply:
        feeds = await self._reading.sources()
        if not feeds:
            return say(req, "sources_none")
        lang, tz = req.lang, ZoneInfo(req.subscriber.timezone)
        lines = [t(lang, "sources_header")]
        for feed in feeds:
            if feed.error_streak:
                # in words only: the raw error names hosts and ports (admins see it in /feeds)
                health = t(lang, "health_failing", streak=feed.error_streak)
            elif feed.last_success_at:
                health = t(lang, "health_ok", when=format_local_time(feed.last_success_at, tz))
            else:
                health = t(lang, "health_never")
            lines.append(t(lang, "source_line", id=feed.id, name=escape(feed.name[:100]), health=health))
        return text_reply("\n".join(lines))
