"""Reading commands: /latest, /search, /digest, /topics, /sources, and their More and topic buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.commands.base import Request, button_rows, say, text_reply
from bot.commands.buttons import (
    LATEST_MORE,
    MAX_PAGE_SIZE,
    MY_TOPICS,
    PUBLISHER_CHOICE,
    SEARCH_MORE,
    SUBSCRIBE,
    TOPIC_DIGEST,
    ButtonCode,
    ButtonValue,
    publisher_key,
)
from bot.commands.digest_buttons import digest_buttons
from bot.commands.replies import Reply
from bot.i18n import t
from bot.numbers import parse_bounded_int
from bot.render import format_local_time, render_digest, render_items
from bot.services.reading import Page, ReadingService
from bot.services.subscriptions import DROPPED, PUBLISHER, SubscriptionService, clean_topic
from bot.telegram_html import escape
from readmodels import ReaderFilter

LATEST_DEFAULT, LATEST_MAX = 5, MAX_PAGE_SIZE
SEARCH_PAGE = 5
SEARCH_MAX_CHARS = 100
MAX_PUBLISHERS = 20  # listed by /sources, most articles first
PUBLISHER_WINDOW = timedelta(days=30)  # a button press finds its publisher among this window's


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
        reader = (await self._subs.following_by_id(req.subscriber)).filter
        page = await self._reading.latest(limit=size, offset=offset, reader=reader)
        if not page.items:
            return say(req, "no_articles" if offset == 0 else "no_more")
        if offset == 0:
            header = t(req.lang, "latest_header")
        else:
            header = t(req.lang, "latest_page_header", page=offset // size + 1)
        return self._page_reply(req, page, header, LATEST_MORE, size, offset=offset, size=size)

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
        reader = (await self._subs.following_by_id(req.subscriber)).filter
        page = await self._reading.search(query, limit=SEARCH_PAGE, offset=offset, reader=reader)
        if not page.items:
            return say(req, "search_none" if offset == 0 else "no_more", query=escape(query))
        if offset == 0:
            header = t(req.lang, "search_header", query=escape(query))
        else:
            header = t(req.lang, "search_page_header", query=escape(query), page=offset // SEARCH_PAGE + 1)
        return self._page_reply(req, page, header, SEARCH_MORE, query, offset=offset, size=SEARCH_PAGE)

    @staticmethod
    def _page_reply(
        req: Request,
        page: Page,
        header: str,
        more: ButtonCode,
        value: ButtonValue,
        *,
        offset: int,
        size: int,
    ) -> Reply:
        """A page of items under its header; its More button carries the next offset and `value` (the page
        size or the query), and a page after the first has a Back button to the one before it."""
        chunks = render_items(page.items, tz=ZoneInfo(req.subscriber.timezone), header=header)
        back = more.button(t(req.lang, "button_back"), max(0, offset - size), value) if offset else None
        forward = None
        if page.next_offset is not None:
            forward = more.button(t(req.lang, "button_more"), page.next_offset, value)
        return Reply(chunks=chunks, buttons=button_rows([back, forward], 2))

    async def topics(self, req: Request) -> Reply:
        window, counts = await self._reading.popular_topics()
        # only tags a topic can be: a longer one ("Federal Communications Commission") made a button that
        # always answered "expired"
        offered = [c for c in counts if clean_topic(c.name) == c.name]
        buttons = button_rows([TOPIC_DIGEST.button(f"{c.name} ({c.count})", c.name) for c in offered], 3)
        if not buttons:
            return say(req, "topics_none")
        return text_reply(t(req.lang, "topics_header", days=window.days), buttons=buttons)

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

    async def digest_more(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        offset, value = int(values[0]), str(values[1])
        if value == MY_TOPICS:  # under a daily digest: the chat's own topics
            return await self._digest(req, None, offset=offset, mine=True)
        return await self._digest(req, clean_topic(value) if value else None, offset=offset)

    async def _older(self, req: Request, topic: str, reader: ReaderFilter) -> Reply:
        """A topic with nothing in the last day: its latest items, as /search finds them. /topics offers tags
        of the last 7 days or more, and a tap on "Windows (3)" once answered "nothing in the last 24 hours".
        """
        older = await self._reading.search(topic, limit=SEARCH_PAGE, offset=0, reader=reader)
        if not older.items:
            return say(req, "digest_topic_empty", topic=escape(topic))
        header = t(req.lang, "digest_topic_older", topic=escape(topic))
        return self._page_reply(req, older, header, SEARCH_MORE, topic, offset=0, size=SEARCH_PAGE)

    async def _digest(self, req: Request, topic: str | None, *, offset: int = 0, mine: bool = False) -> Reply:
        subscriber, lang = req.subscriber, req.lang
        following = await self._subs.following_by_id(subscriber)
        groups = await self._reading.digest(
            topics=[topic] if topic else following.topics if mine else [],
            reader=following.filter,
            size=subscriber.digest_size,
            other_label=t(lang, "digest_other"),
            offset=offset,
        )
        if not groups:
            if offset:
                return say(req, "no_more")
            if topic:
                return await self._older(req, topic, following.filter)
            return say(req, "digest_empty")
        tz = ZoneInfo(subscriber.timezone)
        shown = sum(len(group.items) for group in groups)
        if topic:
            header = t(lang, "digest_topic_header", topic=escape(topic))
        else:
            header = t(lang, "digest_header", date=format_local_time(self._now(), tz)[:10])
        if offset:
            header += t(lang, "digest_page", first=offset + 1, last=offset + shown)
        chunks = render_digest(groups, tz=tz, header=header, first_number=offset + 1)
        buttons = digest_buttons(
            lang,
            groups,
            offset=offset,
            topic=MY_TOPICS if mine else topic or "",
            back=offset > 0,
            page_size=subscriber.digest_size,
            pause=subscriber.wants_digest,
        )
        if topic and topic.casefold() not in {x.casefold() for x in following.topics}:
            follow = SUBSCRIBE.button(t(lang, "button_subscribe_topic", topic=topic), topic)
            buttons = button_rows([follow], 1) + buttons
        return Reply(chunks=chunks, buttons=buttons)

    async def sources(self, req: Request, *, edit: bool = False) -> Reply:
        """The publishers of the last week, each with a button to follow it (then only followed publishers
        are shown) and one to drop it (never shown); then the feeds and their health."""
        publishers = await self._reading.publishers(limit=MAX_PUBLISHERS)
        feeds = await self._reading.sources()
        if not publishers and not feeds:
            return say(req, "sources_none")
        lang, tz = req.lang, ZoneInfo(req.subscriber.timezone)
        following = await self._subs.following_by_id(req.subscriber)
        followed, dropped = set(following.publishers), set(following.dropped)
        lines = [t(lang, "sources_header")]
        rows = []
        for publisher in publishers:
            name = escape(publisher.name[:60])
            state = "★ " if publisher.name in followed else "🚫 " if publisher.name in dropped else ""
            lines.append(t(lang, "publisher_line", state=state, name=name, count=publisher.count))
            key = publisher_key(publisher.name)
            follow = "button_unfollow" if publisher.name in followed else "button_follow"
            drop = "button_undrop" if publisher.name in dropped else "button_drop"
            rows.append(
                [
                    PUBLISHER_CHOICE.button(t(lang, follow, name=publisher.name[:24]), "f", key),
                    PUBLISHER_CHOICE.button(t(lang, drop), "d", key),
                ]
            )
        if followed:
            lines.append(t(lang, "sources_following_only"))
        if feeds:
            lines.append("\n" + t(lang, "feeds_health_header"))
        for feed in feeds:
            if feed.error_streak:
                # in words only: the raw error names hosts and ports (admins see it in /feeds)
                health = t(lang, "health_failing", streak=feed.error_streak)
            elif feed.last_success_at:
                health = t(lang, "health_ok", when=format_local_time(feed.last_success_at, tz))
            else:
                health = t(lang, "health_never")
            lines.append(t(lang, "source_line", id=feed.id, name=escape(feed.name[:100]), health=health))
        buttons = [[b for b in row if b is not None] for row in rows]
        return text_reply("\n".join(lines), buttons=[row for row in buttons if row], edit=edit)

    async def publisher_choice(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        """A press of follow (f) or drop (d) on /sources: toggled, and the list shown again in place."""
        action, key = str(values[0]), str(values[1])
        following = await self._subs.following_by_id(req.subscriber)
        known = [p.name for p in await self._reading.publishers(limit=500, window=PUBLISHER_WINDOW)]
        names = {publisher_key(n): n for n in [*known, *following.publishers, *following.dropped]}
        name = names.get(key)
        if name is None or action not in ("f", "d"):
            return say(req, "button_expired")
        await self._subs.choose_publisher(req.ctx, name, PUBLISHER if action == "f" else DROPPED)
        return await self.sources(req, edit=True)
