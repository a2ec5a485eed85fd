"""Subscription commands: /start, /subscribe, /unsubscribe, /mute, /unmute, /mysubs, and the
subscribe buttons.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.commands.base import Request, button_rows, say, text_reply
from bot.commands.buttons import PAUSE, SUBSCRIBE, TOPICS, UNSUBSCRIBE, ButtonValue
from bot.commands.replies import Reply
from bot.errors import InvalidSetting
from bot.i18n import listed, t
from bot.render import format_local_time
from bot.services.reading import ReadingService
from bot.services.subscriptions import MAX_TOPIC_CHARS, MAX_TOPICS, SubscriptionService, clean_topic
from bot.telegram_html import escape

RECENT_CAP = 99  # "99+" stories of the last week


class SubscriptionCommands:
    def __init__(self, *, subscriptions: SubscriptionService, reading: ReadingService) -> None:
        self._subs = subscriptions
        self._reading = reading

    async def start(self, req: Request) -> Reply:
        subscriber, reactivated = await self._subs.start(req.ctx)
        welcome = t(req.lang, "welcome", time=subscriber.digest_time.strftime("%H:%M"))
        if reactivated:
            welcome = t(req.lang, "welcome_back") + "\n\n" + welcome
        buttons = [
            SUBSCRIBE.button(t(req.lang, "button_subscribe_all"), ""),
            TOPICS.button(t(req.lang, "button_pick_topics")),
        ]
        return text_reply(welcome, buttons=button_rows(buttons, 2))

    async def subscribe(self, req: Request) -> Reply:
        topics = []
        for word in req.args:
            topic = clean_topic(word)
            if topic is None:
                return say(req, "bad_topic", max=MAX_TOPIC_CHARS, topic=escape(word[:40]))
            topics.append(topic)
        try:
            following = await self._subs.subscribe(req.ctx, topics)
        except InvalidSetting as exc:
            return say(req, exc.key, max=MAX_TOPICS)
        s = following.subscriber
        if topics:
            followed = t(req.lang, "subscribed_topics", topics=escape(listed(req.lang, following.topics)))
            return text_reply(followed + "\n\n" + await self._topic_report(req, topics))
        return say(
            req,
            "subscribed_all",
            time=s.digest_time.strftime("%H:%M"),
            tz=escape(s.timezone),
            size=s.digest_size,
        )

    async def _topic_report(self, req: Request, topics: list[str]) -> str:
        """For each topic just followed: how many stories of the last week it finds; for one that finds
        none, the popular tags that look like it."""
        lines = []
        for topic in topics:
            found = await self._reading.recent_matches(topic)
            count = f"{found - 1}+" if found > RECENT_CAP else str(found)
            line = t(req.lang, "topic_week_count", topic=escape(topic), count=count)
            if found == 0:
                near = await self._reading.near_topics(topic)
                hint = "topic_near" if near else "topic_nothing_near"
                line += t(req.lang, hint, tags=escape(listed(req.lang, near)))
            lines.append(line)
        return "\n".join(lines)

    async def subscribe_button(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        topic = str(values[0])
        return await self.subscribe(Request(req.ctx, req.subscriber, req.lang, [topic] if topic else []))

    async def unsubscribe(self, req: Request) -> Reply:
        if not req.args:
            return await self._ask_what_to_drop(req)
        if [a.lower() for a in req.args] == ["all"]:
            await self._subs.unsubscribe(req.ctx, None)
            return say(req, "unsubscribed_all")
        topics = [topic for topic in (clean_topic(a) for a in req.args) if topic]
        removed, following = await self._subs.unsubscribe(req.ctx, topics)
        if not removed:
            return say(req, "not_subscribed_topics", topics=escape(listed(req.lang, topics)))
        key = "unsubscribed_topics" if following.subscriber.wants_digest else "unsubscribed_last_topic"
        return say(req, key, topics=escape(listed(req.lang, removed)))

    async def _ask_what_to_drop(self, req: Request) -> Reply:
        """A bare /unsubscribe drops nothing by itself: it asks, with a button per topic and one for all."""
        following = await self._subs.following_by_id(req.subscriber)
        if not following.subscriber.wants_digest and not following.topics:
            return say(req, "unsubscribe_nothing")
        lang = req.lang
        buttons = [UNSUBSCRIBE.button(t(lang, "button_drop_topic", topic=tp), tp) for tp in following.topics]
        buttons.append(UNSUBSCRIBE.button(t(req.lang, "button_drop_all"), ""))
        key = "unsubscribe_pick" if following.topics else "unsubscribe_confirm"
        return text_reply(t(req.lang, key), buttons=button_rows(buttons, 2))

    async def unsubscribe_button(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        topic = str(values[0])
        args = [topic] if topic else ["all"]
        return await self.unsubscribe(Request(req.ctx, req.subscriber, req.lang, args))

    async def mute(self, req: Request) -> Reply:
        word = clean_topic(" ".join(req.args))
        if word is None:
            return say(req, "mute_usage")
        await self._subs.mute(req.ctx, word)
        return say(req, "muted", word=escape(word))

    async def mute_button(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        """A digest's "mute this topic": the topic's word joins the chat's muted words."""
        word = clean_topic(str(values[0]))
        if word is None:
            return say(req, "button_expired")
        await self._subs.mute(req.ctx, word)
        return say(req, "muted", word=escape(word))

    async def pause_button(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        days = int(values[0])
        subscriber = await self._subs.pause(req.ctx, days)
        if subscriber.paused_until is None:
            return say(req, "resumed")
        until = format_local_time(subscriber.paused_until, ZoneInfo(subscriber.timezone))[:10]
        resume = PAUSE.button(t(req.lang, "button_resume"), 0)
        return text_reply(t(req.lang, "paused", date=until), buttons=button_rows([resume], 1))

    async def unmute(self, req: Request) -> Reply:
        word = clean_topic(" ".join(req.args))
        if word is None:
            return say(req, "unmute_usage")
        found = await self._subs.unmute(req.ctx, word)
        return say(req, "unmuted" if found else "not_muted", word=escape(word))

    async def mysubs(self, req: Request) -> Reply:
        following = await self._subs.following(req.ctx)
        s, lang = following.subscriber, req.lang
        if not s.wants_digest and not following.topics and not following.mutes:
            return say(req, "mysubs_none")
        return say(
            req,
            "mysubs",
            digest=t(lang, "mysubs_digest_on" if s.wants_digest else "mysubs_digest_off"),
            topics=(
                escape(listed(req.lang, following.topics)) if following.topics else t(lang, "all_topics")
            ),
            mutes=escape(listed(req.lang, following.mutes)) if following.mutes else t(lang, "none"),
            time=s.digest_time.strftime("%H:%M"),
            tz=escape(s.timezone),
            size=s.digest_size,
        )
