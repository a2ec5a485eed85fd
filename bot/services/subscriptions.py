"""Chats and what they follow: subscriber records, topic subscriptions, muted words and digest settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import InvalidSetting
from bot.numbers import parse_bounded_int
from bot.services.ingest import utc_now
from db.engine import take_sqlite_write_lock
from db.models import Subscriber
from db.outbox import OutboxRepo
from db.repositories import SubscriberRepo, subscriber_view
from readmodels import ChatContext, Following, SubscriberView
from summarizer.clean import one_line

TOPIC = "topic"
MUTE = "mute"
PUBLISHER = "source"  # a publisher the chat follows (following any: only those)
DROPPED = "drop"  # a publisher the chat never wants to see
MAX_TOPIC_CHARS = 32
MAX_TOPICS = 30
MAX_DIGEST_SIZE = 30
DEFAULT_DIGEST_SIZE = 10


def parse_digest_time(value: str) -> time:
    """HH:MM (or H:MM, or with a full-width colon) in ASCII digits."""
    hours, colon, minutes = value.strip().replace("：", ":").partition(":")
    hour = parse_bounded_int(hours, low=0, high=23)
    minute = parse_bounded_int(minutes, low=0, high=59) if len(minutes) == 2 else None
    if not colon or hour is None or minute is None:
        raise InvalidSetting("settings_bad_time", value)
    return time(hour, minute)


@cache
def _zone_names() -> dict[str, str]:
    """Every time zone name the zone database has, by its case-folded spelling. A name that is not here is
    not looked up at all: `ZoneInfo` opens files, and 'America' is a folder of them."""
    # "localtime" is the server's own zone (its /etc/localtime, absent in many containers: then every command
    # of that chat failed) and "Factory" no place's; neither is a reader's zone
    return {name.casefold(): name for name in available_timezones() if name not in _NOT_PLACES}


_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


def parse_timezone(value: str) -> str:
    """The time zone `value` names, spelled as the zone database does (`asia/tokyo` -> `Asia/Tokyo`)."""
    name = _zone_names().get(value.strip().casefold())
    if name is None:
        raise InvalidSetting("settings_bad_tz", value)
    return name


def parse_digest_size(value: str) -> int:
    """A number of items from 1 to MAX_DIGEST_SIZE, in ASCII digits."""
    size = parse_bounded_int(value.strip(), low=1, high=MAX_DIGEST_SIZE)
    if size is None:
        raise InvalidSetting("settings_bad_size", value)
    return size


def clean_topic(word: str) -> str | None:
    """A topic as stored: one line without control characters or bidirectional overrides (they would be echoed
    back to the chat), without '#', trimmed; None when empty or too long."""
    topic = one_line(word).lstrip("#").strip()
    return topic if 0 < len(topic) <= MAX_TOPIC_CHARS else None


# A stamp this far ahead of the clock was made while the clock was wrong (set forward, then back); less is
# two servers' clocks disagreeing a little, and is believed.
CLOCK_SET_BACK = timedelta(hours=1)


def from_the_future(stamp: datetime | None, now: datetime) -> bool:
    """Whether `stamp` is ahead of `now` by CLOCK_SET_BACK or more."""
    return stamp is not None and stamp > now + CLOCK_SET_BACK


def served_on_local_day(last_digest_at: datetime | None, timezone: str, now: datetime) -> bool:
    """Whether the chat's last digest was on its local day of `now` (or later): today's is decided. A last
    digest dated a later day by a clock that was ahead decides nothing: taken as served, the chat got no
    digest until the clock caught up with it, and what came meanwhile was in none."""
    if last_digest_at is None:
        return False
    tz = ZoneInfo(timezone)
    last, today = last_digest_at.astimezone(tz).date(), now.astimezone(tz).date()
    return last == today or (last > today and not from_the_future(last_digest_at, now))


def _resume_at(subscriber: Subscriber, now: datetime, days: int) -> datetime:
    """The local midnight that ends a pause of `days` digests: counted from the next one due (today's,
    unless it was sent), in local days. (Counted as `days` x 24 hours from now, a pause set at 22:00 ended at
    22:00 and that day's digest went out then; one across a change of clocks ended an hour late.)"""
    tz = ZoneInfo(subscriber.timezone)
    served = served_on_local_day(subscriber.last_digest_at, subscriber.timezone, now)
    resume = now.astimezone(tz).date() + timedelta(days=days + (1 if served else 0))
    return datetime.combine(resume, time(0), tz).astimezone(UTC)


async def _following(repo: SubscriberRepo, subscriber: SubscriberView) -> Following:
    values = await repo.all_values(subscriber.id)
    return Following(
        subscriber,
        values.get(TOPIC, []),
        values.get(MUTE, []),
        publishers=values.get(PUBLISHER, []),
        dropped=values.get(DROPPED, []),
    )


class SubscriptionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_timezone: str,
        default_digest_time: time,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._timezone = default_timezone
        self._digest_time = default_digest_time
        self._now = now

    @asynccontextmanager
    async def _counting(self) -> AsyncIterator[AsyncSession]:
        """A transaction that reads what a chat follows and changes it by what it read (the topic cap, the
        last topic stopping the digest). PostgreSQL: `_subscriber` locks the chat's row. SQLite has no row
        locks: its write lock is taken before the first read, as the digest store does."""
        async with self._sessions() as session, session.begin():
            await take_sqlite_write_lock(session)
            yield session

    async def _subscriber(self, session: AsyncSession, ctx: ChatContext) -> Subscriber:
        """The chat's record, made on first contact, locked for the caller's transaction: a chat's commands
        and button presses run side by side (PTB's concurrent updates), and two changes of its lists once
        each missed the other (the last topic removed while another was added: the digest stopped)."""
        repo = SubscriberRepo(session)
        subscriber = await repo.by_chat(ctx.chat_id, lock=True)
        if subscriber is None:
            subscriber = Subscriber(
                chat_id=ctx.chat_id,
                kind=ctx.chat_kind,
                title=one_line(ctx.chat_title or "")[:256] or None,
                language=None,
                telegram_language=ctx.language_code,
                timezone=self._timezone,
                digest_time=self._digest_time,
                digest_size=DEFAULT_DIGEST_SIZE,
                wants_digest=False,
                active=True,
                created_at=self._now(),
            )
            session.add(subscriber)
            await session.flush()
        elif ctx.language_code and ctx.language_code != subscriber.telegram_language and not ctx.is_group:
            # a group keeps the language it was first spoken to in: not whoever spoke last's
            subscriber.telegram_language = ctx.language_code
        return subscriber

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> bool:
        """Telegram says a group became a supergroup: its subscriber follows now, so that a command in the
        supergroup finds it, as the outbox would at its next send to the old chat; False: nothing to move
        (the other of Telegram's two notices, or a group that never subscribed)."""
        async with self._sessions() as session, session.begin():
            old = await SubscriberRepo(session).by_chat(old_chat_id)
            if old is None or not old.active or old_chat_id == new_chat_id:
                return False
            await OutboxRepo(session).migrate_subscriber(
                old.id, old_chat_id=old_chat_id, new_chat_id=new_chat_id, now=self._now()
            )
            return True

    async def chat_left(self, chat_id: int, reason: str) -> bool:
        """Telegram says the bot may no longer write to the chat (blocked, removed from the group): the chat
        is inactive and its pending messages dropped now, not at the next failed send. False when there was
        nothing to stop. /start (a user who unblocked, a group that added the bot again) makes it active."""
        async with self._sessions() as session, session.begin():
            subscriber = await SubscriberRepo(session).by_chat(chat_id)
            if subscriber is None or not subscriber.active:
                return False
            await OutboxRepo(session).deactivate_subscriber(subscriber.id, reason=reason, now=self._now())
            return True

    async def touch(self, ctx: ChatContext) -> SubscriberView:
        """The chat's record, created on first contact; remembers the user's Telegram language."""
        try:
            async with self._sessions() as session, session.begin():
                return subscriber_view(await self._subscriber(session, ctx))
        except IntegrityError:
            # two updates of a new chat raced; the other one created the record
            async with self._sessions() as session, session.begin():
                return subscriber_view(await self._subscriber(session, ctx))

    async def start(self, ctx: ChatContext) -> tuple[SubscriberView, bool]:
        """Handle /start; returns the subscriber and whether it had left and is active again."""
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            reactivated = not subscriber.active
            subscriber.active = True
            subscriber.inactive_reason = None
            return subscriber_view(subscriber), reactivated

    async def subscribe(self, ctx: ChatContext, topics: Sequence[str]) -> Following:
        """No topics: the digest of everything. Topics: the digest of those only, at most MAX_TOPICS in all
        (InvalidSetting "too_many_topics" past it: nothing is added). Counted under the chat's lock, with the
        topics it follows already: two /subscribe at once once each counted without the other's. In a forum
        supergroup the digest goes to the topic subscribed in (General's: the chat itself)."""
        async with self._counting() as session:
            subscriber = await self._subscriber(session, ctx)
            subscriber.thread_id = ctx.thread_id
            repo = SubscriberRepo(session)
            if topics:
                followed = {value.casefold() for value in await repo.values(subscriber.id, TOPIC)}
                new = {topic.casefold() for topic in topics} - followed
                if len(followed) + len(new) > MAX_TOPICS:
                    raise InvalidSetting("too_many_topics", "")
                await repo.add_values(subscriber, TOPIC, topics, now=self._now())
            else:
                await repo.remove_values(subscriber.id, TOPIC, None)
            subscriber.wants_digest = True
            subscriber.active = True
            return await self._following(repo, subscriber)

    async def unsubscribe(
        self, ctx: ChatContext, topics: Sequence[str] | None
    ) -> tuple[list[str], Following]:
        """No topics (or "all"): stop the digest. Topics: stop those; the last one gone stops the digest."""
        async with self._counting() as session:
            subscriber = await self._subscriber(session, ctx)
            repo = SubscriberRepo(session)
            if topics is None:
                removed = await repo.remove_values(subscriber.id, TOPIC, None)
                subscriber.wants_digest = False
            else:
                removed = await repo.remove_values(subscriber.id, TOPIC, topics)
                if removed and not await repo.values(subscriber.id, TOPIC):
                    subscriber.wants_digest = False
            return removed, await self._following(repo, subscriber)

    async def mute(self, ctx: ChatContext, word: str) -> None:
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            await SubscriberRepo(session).add_values(subscriber, MUTE, [word], now=self._now())

    async def unmute(self, ctx: ChatContext, word: str) -> bool:
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            return bool(await SubscriberRepo(session).remove_values(subscriber.id, MUTE, [word]))

    async def following(self, ctx: ChatContext) -> Following:
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            return await self._following(SubscriberRepo(session), subscriber)

    async def following_by_id(self, subscriber: SubscriberView) -> Following:
        """What a known subscriber follows, read only."""
        async with self._sessions() as session:
            return await _following(SubscriberRepo(session), subscriber)

    @staticmethod
    async def _following(repo: SubscriberRepo, subscriber: Subscriber) -> Following:
        return await _following(repo, subscriber_view(subscriber))

    async def update_settings(
        self,
        ctx: ChatContext,
        *,
        digest_time: time | None = None,
        timezone: str | None = None,
        digest_size: int | None = None,
        language: str | None = None,
        article_languages: Sequence[str] | None = None,
        silent: bool | None = None,
        link_previews: bool | None = None,
        summary_language: str | None = None,
    ) -> SubscriberView:
        """Change the given settings. Moving the digest never sends one by itself: a digest time that has
        passed today waits for tomorrow (`schedule_changed_at`, see digests.is_due)."""
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            subscriber.settings_changed_at = self._now()
            if (digest_time is not None and digest_time != subscriber.digest_time) or (
                timezone is not None and timezone != subscriber.timezone
            ):
                subscriber.schedule_changed_at = self._now()
            if article_languages is not None:
                subscriber.article_languages = ",".join(article_languages) or None
            if silent is not None:
                subscriber.silent = silent
            if link_previews is not None:
                subscriber.link_previews = link_previews
            if summary_language is not None:  # "": as the articles are written
                subscriber.summary_language = summary_language or None
            if digest_time is not None:
                subscriber.digest_time = digest_time
            if timezone is not None and timezone != subscriber.timezone:
                # digests already stored carry dates of the old zone; from today on in the new one such a date
                # would hold the key (chat, date) a digest still to come needs: Tokyo's 26th, moved to Los
                # Angeles, refused Los Angeles' 26th all day. Whether a day was served is read from
                # last_digest_at, not from these dates.
                today = self._now().astimezone(ZoneInfo(timezone)).date()
                await SubscriberRepo(session).release_digest_dates(subscriber.id, since=today)
                subscriber.timezone = timezone
            if digest_size is not None:
                subscriber.digest_size = digest_size
            if language is not None:
                subscriber.language = language
            return subscriber_view(subscriber)

    async def choose_publisher(self, ctx: ChatContext, publisher: str, kind: str) -> Following:
        """Toggle a publisher in the chat's PUBLISHER (follow) or DROPPED list; following one undrops it and
        dropping one unfollows it."""
        other = DROPPED if kind == PUBLISHER else PUBLISHER
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            repo = SubscriberRepo(session)
            if not await repo.remove_values(subscriber.id, kind, [publisher]):
                await repo.remove_values(subscriber.id, other, [publisher])
                await repo.add_values(subscriber, kind, [publisher], now=self._now())
            return await self._following(repo, subscriber)

    async def pause(self, ctx: ChatContext, days: int) -> SubscriberView:
        """No digest on the next `days` days the chat would have one; 0 resumes at once."""
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            subscriber.paused_until = _resume_at(subscriber, self._now(), days) if days > 0 else None
            return subscriber_view(subscriber)

    async def ensure_channel(self, chat_id: int, title: str | None) -> SubscriberView:
        """The channel of CHANNEL_ID as a subscriber that receives every digest."""
        ctx = ChatContext(chat_id=chat_id, chat_kind="channel", chat_title=title)
        async with self._sessions() as session, session.begin():
            subscriber = await self._subscriber(session, ctx)
            subscriber.kind = "channel"
            subscriber.wants_digest = True
            subscriber.active = True
            subscriber.inactive_reason = None
            return subscriber_view(subscriber)
