"""Subscription commands: /start, /subscribe, /unsubscribe, /mute, /unmute, /mysubs, and the
subscribe buttons.
"""

from __future__ import annotations

from bot.commands.base import Request, button_rows, say, text_reply
from bot.commands.buttons import SUBSCRIBE, TOPICS, ButtonValue
from bot.commands.replies import Reply
from bot.i18n import t
from bot.services.subscriptions import MAX_TOPIC_CHARS, MAX_TOPICS, SubscriptionService, clean_topic
from bot.telegram_html import escape

TOPIC_SEPARATOR = "、"


class SubscriptionCommands:
    def __init__(self, *, subscriptions: SubscriptionService) -> None:
        self._subs = subscriptions

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
        if topics and await self._subs.count_topics(req.ctx) + len(topics) > MAX_TOPICS:
            return say(req, "too_many_topics", max=MAX_TOPICS)
        following = await self._subs.subscribe(req.ctx, topics)
        s = following.subscriber
        if topics:
            return say(req, "subscribed_topics", topics=escape(TOPIC_SEPARATOR.join(following.topics)))
        return say(
            req,
            "subscribed_all",
            time=s.digest_time.strftime("%H:%M"),
            tz=escape(s.timezone),
            size=s.digest_size,
        )

    async def subscribe_button(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        topic = str(values[0])
        return await self.subscribe(Request(req.ctx, req.subscriber, req.lang, [topic] if topic else []))

    async def unsubscribe(self, req: Request) -> Reply:
        if not req.args or [a.lower() for a in req.args] == ["all"]:
            await self._subs.unsubscribe(req.ctx, None)
            return say(req, "unsubscribed_all")
        topics = [topic for topic in (clean_topic(a) for a in req.args) if topic]
        removed, following = await self._subs.unsubscribe(req.ctx, topics)
        if not removed:
            return say(req, "not_subscribed_topics", topics=escape(TOPIC_SEPARATOR.join(topics)))
        key = "unsubscribed_topics" if following.subscriber.wants_digest else "unsubscribed_last_topic"
        return say(req, key, topics=escape(TOPIC_SEPARATOR.join(removed)))

    async def mute(self, req: Request) -> Reply:
        word = clean_topic(" ".join(req.args))
        if word is None:
            return say(req, "mute_usage")
        await self._subs.mute(req.ctx, word)
        return say(req, "muted", word=escape(word))

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
                escape(TOPIC_SEPARATOR.join(following.topics)) if following.topics else t(lang, "all_topics")
            ),
            mutes=escape(TOPIC_SEPARATOR.join(following.mutes)) if following.mutes else t(lang, "none"),
            time=s.digest_time.strftime("%H:%M"),
            tz=escape(s.timezone),
            size=s.digest_size,
        )
