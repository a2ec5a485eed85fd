"""The bot's command layer: every command and button press, answered as a `Reply`.

The Telegram adapter (bot/app.py) and the terminal console (bot/console.py) both call `CommandService`; neither
builds replies itself. Nothing here knows about Telegram's API: it deals in ChatContext, strings and buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.i18n import Lang, choose_language, t
from bot.render import escape, format_local_time, render_digest, render_items, split_text
from bot.replies import Button, ChatContext, Reply
from bot.services.feeds import FeedError, FeedService
from bot.services.reading import ReadingService
from bot.services.subscriptions import (
    MAX_DIGEST_SIZE,
    MAX_TOPIC_CHARS,
    MAX_TOPICS,
    SettingError,
    SubscriptionService,
    clean_topic,
    parse_digest_size,
    parse_digest_time,
    parse_timezone,
)
from db.models import Subscriber

log = logging.getLogger(__name__)

LATEST_DEFAULT, LATEST_MAX = 5, 20
SEARCH_PAGE = 5
CALLBACK_MAX_BYTES = 64
TIME_CHOICES = ("06:00", "07:00", "08:00", "09:00", "12:00", "18:00", "20:00", "22:00")
TZ_CHOICES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)
SIZE_CHOICES = (5, 10, 15, 20)

Handler = Callable[[ChatContext, Subscriber, Lang, list[str]], Awaitable[Reply]]


def _fits(data: str) -> bool:
    return len(data.encode("utf-8")) <= CALLBACK_MAX_BYTES


def _text(*chunks: str, buttons: list[list[Button]] | None = None, edit: bool = False) -> Reply:
    parts = [piece for chunk in chunks for piece in split_text(chunk)]
    return Reply(chunks=parts, buttons=buttons or [], edit=edit)


def _rows(buttons: Sequence[Button], per_row: int) -> list[list[Button]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


class CommandService:
    def __init__(
        self,
        *,
        subscriptions: SubscriptionService,
        reading: ReadingService,
        feeds: FeedService,
        admin_ids: Sequence[int],
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._subs = subscriptions
        self._reading = reading
        self._feeds = feeds
        self._admins = frozenset(admin_ids)
        self._now = now
        self._commands: dict[str, Handler] = {
            "start": self.start,
            "help": self.help,
            "latest": self.latest,
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "mute": self.mute,
            "unmute": self.unmute,
            "mysubs": self.mysubs,
            "topics": self.topics,
            "digest": self.digest,
            "search": self.search,
            "settings": self.settings,
            "sources": self.sources,
            "addfeed": self.addfeed,
            "removefeed": self.removefeed,
            "feeds": self.feeds,
            "stats": self.stats,
        }

    @property
    def command_names(self) -> list[str]:
        return list(self._commands)

    def is_admin(self, ctx: ChatContext) -> bool:
        return ctx.user_id is not None and ctx.user_id in self._admins

    # ---- entry points ------------------------------------------------------------------------------------

    async def handle(self, ctx: ChatContext, command: str, args: Sequence[str]) -> Reply:
        """Answer `/command args`. Unknown commands get a hint."""
        subscriber = await self._subs.touch(ctx)
        lang = choose_language(subscriber.language, ctx.language_code or subscriber.telegram_language)
        handler = self._commands.get(command.lower())
        if handler is None:
            return _text(t(lang, "unknown_command"))
        return await handler(ctx, subscriber, lang, list(args))

    async def free_text(self, ctx: ChatContext) -> Reply:
        subscriber = await self._subs.touch(ctx)
        return _text(t(choose_language(subscriber.language, ctx.language_code), "free_text"))

    async def button(self, ctx: ChatContext, data: str) -> Reply:
        """Answer a button press; `data` is what one of our buttons carried."""
        subscriber = await self._subs.touch(ctx)
        lang = choose_language(subscriber.language, ctx.language_code or subscriber.telegram_language)
        kind, _, rest = data.partition(":")
        if kind == "sub":
            return await self.subscribe(ctx, subscriber, lang, [rest] if rest else [])
        if kind == "topics":
            return await self.topics(ctx, subscriber, lang, [])
        if kind == "t" and rest:
            return await self.digest(ctx, subscriber, lang, [rest])
        if kind == "l":
            offset, _, size = rest.partition(":")
            if offset.isdigit() and size.isdigit():
                return await self._latest_page(subscriber, lang, int(size), int(offset))
        if kind == "s":
            offset, _, query = rest.partition(":")
            if offset.isdigit() and query:
                return await self._search_page(subscriber, lang, query, int(offset))
        if kind == "set":
            return await self._settings_button(ctx, subscriber, lang, rest)
        return _text(t(lang, "button_expired"))

    # ---- commands ----------------------------------------------------------------------------------------

    async def start(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        subscriber, reactivated = await self._subs.start(ctx)
        welcome = t(lang, "welcome", time=subscriber.digest_time.strftime("%H:%M"))
        if reactivated:
            welcome = t(lang, "welcome_back") + "\n\n" + welcome
        buttons = [[Button(t(lang, "button_subscribe_all"), "sub:"), Button(t(lang, "button_pick_topics"), "topics")]]
        return _text(welcome, buttons=buttons)

    async def help(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        text = t(lang, "help")
        if self.is_admin(ctx):
            text += "\n\n" + t(lang, "help_admin")
        return _text(text)

    async def latest(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        size = LATEST_DEFAULT
        if args:
            if not args[0].isdigit() or not 1 <= int(args[0]) <= LATEST_MAX:
                return _text(t(lang, "bad_count", max=LATEST_MAX))
            size = int(args[0])
        return await self._latest_page(subscriber, lang, size, 0)

    async def _latest_page(self, subscriber: Subscriber, lang: Lang, size: int, offset: int) -> Reply:
        size = max(1, min(size, LATEST_MAX))
        mutes = (await self._subs.following_by_id(subscriber)).mutes
        page = await self._reading.latest(limit=size, offset=offset, mutes=mutes)
        if not page.items:
            return _text(t(lang, "no_articles" if offset == 0 else "no_more"))
        header = t(lang, "latest_header") if offset == 0 else None
        chunks = render_items(page.items, tz=ZoneInfo(subscriber.timezone), header=header)
        buttons = []
        if page.next_offset is not None:
            buttons = [[Button(t(lang, "button_more"), f"l:{page.next_offset}:{size}")]]
        return Reply(chunks=chunks, buttons=buttons)

    async def search(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        query = " ".join(args).strip()
        if not query:
            return _text(t(lang, "search_usage"))
        return await self._search_page(subscriber, lang, query[:100], 0)

    async def _search_page(self, subscriber: Subscriber, lang: Lang, query: str, offset: int) -> Reply:
        mutes = (await self._subs.following_by_id(subscriber)).mutes
        page = await self._reading.search(query, limit=SEARCH_PAGE, offset=offset, mutes=mutes)
        if not page.items:
            return _text(t(lang, "search_none" if offset == 0 else "no_more", query=escape(query)))
        header = t(lang, "search_header", query=escape(query)) if offset == 0 else None
        chunks = render_items(page.items, tz=ZoneInfo(subscriber.timezone), header=header)
        buttons = []
        data = f"s:{page.next_offset}:{query}"
        if page.next_offset is not None and _fits(data):
            buttons = [[Button(t(lang, "button_more"), data)]]
        return Reply(chunks=chunks, buttons=buttons)

    async def subscribe(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        topics = []
        for word in args:
            topic = clean_topic(word)
            if topic is None:
                return _text(t(lang, "bad_topic", max=MAX_TOPIC_CHARS, topic=escape(word[:40])))
            topics.append(topic)
        if topics and await self._subs.count_topics(ctx) + len(topics) > MAX_TOPICS:
            return _text(t(lang, "too_many_topics", max=MAX_TOPICS))
        following = await self._subs.subscribe(ctx, topics)
        s = following.subscriber
        if topics:
            return _text(t(lang, "subscribed_topics", topics=escape("、".join(following.topics))))
        return _text(
            t(lang, "subscribed_all", time=s.digest_time.strftime("%H:%M"), tz=escape(s.timezone), size=s.digest_size)
        )

    async def unsubscribe(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        if not args or [a.lower() for a in args] == ["all"]:
            await self._subs.unsubscribe(ctx, None)
            return _text(t(lang, "unsubscribed_all"))
        topics = [topic for topic in (clean_topic(a) for a in args) if topic]
        removed, following = await self._subs.unsubscribe(ctx, topics)
        if not removed:
            return _text(t(lang, "not_subscribed_topics", topics=escape("、".join(topics))))
        key = "unsubscribed_topics" if following.subscriber.wants_digest else "unsubscribed_last_topic"
        return _text(t(lang, key, topics=escape("、".join(removed))))

    async def mute(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        word = clean_topic(" ".join(args))
        if word is None:
            return _text(t(lang, "mute_usage"))
        await self._subs.mute(ctx, word)
        return _text(t(lang, "muted", word=escape(word)))

    async def unmute(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        word = clean_topic(" ".join(args))
        if word is None:
            return _text(t(lang, "unmute_usage"))
        found = await self._subs.unmute(ctx, word)
        return _text(t(lang, "unmuted" if found else "not_muted", word=escape(word)))

    async def mysubs(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        following = await self._subs.following(ctx)
        s = following.subscriber
        if not s.wants_digest and not following.topics and not following.mutes:
            return _text(t(lang, "mysubs_none"))
        return _text(
            t(
                lang,
                "mysubs",
                digest=t(lang, "mysubs_digest_on" if s.wants_digest else "mysubs_digest_off"),
                topics=escape("、".join(following.topics)) if following.topics else t(lang, "all_topics"),
                mutes=escape("、".join(following.mutes)) if following.mutes else t(lang, "none"),
                time=s.digest_time.strftime("%H:%M"),
                tz=escape(s.timezone),
                size=s.digest_size,
            )
        )

    async def topics(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        counts = await self._reading.topics()
        buttons = [Button(f"{c.name} ({c.count})", f"t:{c.name}") for c in counts if _fits(f"st:{c.name}")]
        if not buttons:
            return _text(t(lang, "topics_none"))
        return _text(t(lang, "topics_header"), buttons=_rows(buttons, 3))

    async def digest(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        topic = clean_topic(" ".join(args)) if args else None
        following = await self._subs.following_by_id(subscriber)
        groups = await self._reading.digest(
            topic=topic, mutes=following.mutes, size=subscriber.digest_size, other_label=t(lang, "digest_other")
        )
        if not groups:
            if topic:
                return _text(t(lang, "digest_topic_empty", topic=escape(topic)))
            return _text(t(lang, "digest_empty"))
        tz = ZoneInfo(subscriber.timezone)
        if topic:
            header = t(lang, "digest_topic_header", topic=escape(topic))
        else:
            header = t(lang, "digest_header", date=format_local_time(self._now(), tz)[:10])
        chunks = render_digest(groups, tz=tz, header=header)
        buttons = []
        if topic and _fits(f"sub:{topic}") and topic.casefold() not in {x.casefold() for x in following.topics}:
            buttons = [[Button(t(lang, "button_subscribe_topic", topic=topic), f"sub:{topic}")]]
        return Reply(chunks=chunks, buttons=buttons)

    async def settings(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        if args:
            if len(args) != 2:
                return _text(t(lang, "settings_usage"))
            return await self._apply_setting(ctx, subscriber, lang, args[0].lower(), args[1], edit=False)
        return self._settings_menu(subscriber, lang, edit=False)

    def _settings_menu(self, subscriber: Subscriber, lang: Lang, *, edit: bool) -> Reply:
        text = t(
            lang,
            "settings_header",
            time=subscriber.digest_time.strftime("%H:%M"),
            tz=escape(subscriber.timezone),
            size=subscriber.digest_size,
            lang="简体中文" if lang == "zh" else "English",
        )
        other = "en" if lang == "zh" else "zh"
        buttons = [
            [
                Button(t(lang, "button_time", time=subscriber.digest_time.strftime("%H:%M")), "set:time"),
                Button(t(lang, "button_tz"), "set:tz"),
            ],
            [
                Button(t(lang, "button_size", size=subscriber.digest_size), "set:size"),
                Button(t(lang, "button_lang"), f"set:lang:{other}"),
            ],
        ]
        return _text(text, buttons=buttons, edit=edit)

    async def _settings_button(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, rest: str) -> Reply:
        name, _, value = rest.partition(":")
        if value:
            return await self._apply_setting(ctx, subscriber, lang, name, value, edit=True)
        if name == "time":
            choices = [Button(v, f"set:time:{v}") for v in TIME_CHOICES]
            return _text(t(lang, "settings_pick_time"), buttons=_rows(choices, 4), edit=True)
        if name == "tz":
            choices = [Button(v, f"set:tz:{v}") for v in TZ_CHOICES]
            return _text(t(lang, "settings_pick_tz"), buttons=_rows(choices, 2), edit=True)
        if name == "size":
            choices = [Button(str(v), f"set:size:{v}") for v in SIZE_CHOICES]
            return _text(t(lang, "settings_pick_size"), buttons=_rows(choices, 4), edit=True)
        return _text(t(lang, "button_expired"))

    async def _apply_setting(
        self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, name: str, value: str, *, edit: bool
    ) -> Reply:
        try:
            if name == "time":
                subscriber = await self._subs.update_settings(ctx, digest_time=parse_digest_time(value))
            elif name == "tz":
                subscriber = await self._subs.update_settings(ctx, timezone=parse_timezone(value))
            elif name == "size":
                subscriber = await self._subs.update_settings(ctx, digest_size=parse_digest_size(value))
            elif name == "lang" and value in ("zh", "en"):
                subscriber = await self._subs.update_settings(ctx, language=value)
                lang = choose_language(value, None)
            else:
                return _text(t(lang, "settings_usage"))
        except SettingError as exc:
            return _text(t(lang, exc.key, value=escape(exc.value[:40]), max=MAX_DIGEST_SIZE))
        menu = self._settings_menu(subscriber, lang, edit=edit)
        return Reply(chunks=[t(lang, "settings_saved") + "\n\n" + menu.chunks[0]], buttons=menu.buttons, edit=edit)

    async def sources(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        feeds = await self._reading.sources()
        if not feeds:
            return _text(t(lang, "sources_none"))
        tz = ZoneInfo(subscriber.timezone)
        lines = [t(lang, "sources_header")]
        for feed in feeds:
            if feed.error_streak:
                health = t(lang, "health_failing", streak=feed.error_streak, error=escape((feed.last_error or "")[:120]))
            elif feed.last_success_at:
                health = t(lang, "health_ok", when=format_local_time(feed.last_success_at, tz))
            else:
                health = t(lang, "health_never")
            lines.append(t(lang, "source_line", id=feed.id, name=escape(feed.name[:100]), health=health))
        return _text("\n".join(lines))

    # ---- admin -------------------------------------------------------------------------------------------

    def _refuse(self, ctx: ChatContext, lang: Lang) -> Reply | None:
        return None if self.is_admin(ctx) else _text(t(lang, "admin_only"))

    async def addfeed(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        if refusal := self._refuse(ctx, lang):
            return refusal
        if len(args) != 1:
            return _text(t(lang, "addfeed_usage"))
        try:
            feed = await self._feeds.add(args[0])
        except FeedError as exc:
            return _text(t(lang, "feed_error", error=escape(str(exc))))
        return _text(t(lang, "feed_added", id=feed.id, url=escape(feed.url)))

    async def removefeed(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        if refusal := self._refuse(ctx, lang):
            return refusal
        if len(args) != 1:
            return _text(t(lang, "removefeed_usage"))
        try:
            feed = await self._feeds.remove(args[0])
        except FeedError as exc:
            return _text(t(lang, "feed_error", error=escape(str(exc))))
        return _text(t(lang, "feed_removed", id=feed.id, url=escape(feed.url)))

    async def feeds(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        if refusal := self._refuse(ctx, lang):
            return refusal
        feeds = await self._feeds.list_feeds()
        if not feeds:
            return _text(t(lang, "sources_none"))
        tz = ZoneInfo(subscriber.timezone)
        blocks = [t(lang, "feeds_header")]
        for feed in feeds:
            blocks.append(
                t(
                    lang,
                    "feed_admin_line",
                    id=feed.id,
                    name=escape(feed.name[:100]),
                    url=escape(feed.url),
                    fetched=format_local_time(feed.last_fetch_at, tz) if feed.last_fetch_at else "-",
                    status=escape(feed.last_status or "-"),
                    streak=feed.error_streak,
                    error=f" ({escape(feed.last_error[:200])})" if feed.last_error else "",
                )
            )
        return _text("\n\n".join(blocks))

    async def stats(self, ctx: ChatContext, subscriber: Subscriber, lang: Lang, args: list[str]) -> Reply:
        if refusal := self._refuse(ctx, lang):
            return refusal
        s = await self._reading.stats()
        return _text(
            t(
                lang,
                "stats",
                active=s.active,
                subscribers=s.subscribers,
                articles=s.articles,
                recent=s.recent,
                sent=s.sent,
                pending=s.pending,
                failed=s.failed,
                dead=s.dead,
            )
        )
