"""Forum supergroups (topics): a command's answer goes to the topic it came from, a chat's digests to the
topic it subscribed in, and a topic deleted or closed later sends them to the chat itself (General). Before,
everything went to General, and a forum whose General topic is closed refused every answer and digest
(TOPIC_CLOSED)."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Subscriber
from tests.bot.conftest import RunningBot

FORUM = -100555
NEWS_TOPIC = 7
ADMIN = 71


async def test_answers_and_digests_go_to_the_topic_of_the_command(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    fake.admins[FORUM] = [ADMIN]
    fake.forum_topics[FORUM] = {NEWS_TOPIC}
    fake.closed_general.add(FORUM)
    forum = {"chat_type": "supergroup", "chat_title": "读报论坛", "user_id": ADMIN}

    (answer,) = await running_bot.say(FORUM, "/subscribe", thread_id=NEWS_TOPIC, **forum)
    assert answer["message_thread_id"] == NEWS_TOPIC
    (latest,) = await running_bot.say(FORUM, "/latest 1", thread_id=NEWS_TOPIC, **forum)
    assert latest["message_thread_id"] == NEWS_TOPIC

    before = len(fake.sent(FORUM))
    assert (await running_bot.digests.run(force=True)).enqueued == 1
    digest = await running_bot.wait_sent(FORUM, before, 1)
    assert {message.get("message_thread_id") for message in digest} == {NEWS_TOPIC}


async def test_a_deleted_topic_sends_the_digest_to_general(running_bot: RunningBot) -> None:
    """A guard of the fallback (the code before sent nothing to topics, so it passed this too): without it,
    the digest to a deleted topic went out as plain text, then died."""
    fake = running_bot.fake
    fake.admins[FORUM] = [ADMIN]
    fake.forum_topics[FORUM] = {NEWS_TOPIC}
    forum = {"chat_type": "supergroup", "chat_title": "读报论坛", "user_id": ADMIN}
    await running_bot.say(FORUM, "/subscribe", thread_id=NEWS_TOPIC, **forum)

    fake.forum_topics[FORUM] = set()  # the topic is deleted; General is open
    before = len(fake.sent(FORUM))
    assert (await running_bot.digests.run(force=True)).enqueued == 1
    digest = await running_bot.wait_sent(FORUM, before, 1)
    assert {message.get("message_thread_id") for message in digest} == {None}
    async with running_bot.sessions() as session:
        thread = await session.scalar(select(Subscriber.thread_id).where(Subscriber.chat_id == FORUM))
    assert thread is None


async def test_a_reply_thread_of_an_ordinary_supergroup_is_not_a_topic(running_bot: RunningBot) -> None:
    """Outside forums, a message answering another carries message_thread_id too: no place to send to. (A
    guard: the code before never sent to a thread; taking every message_thread_id would fail it.)"""
    fake = running_bot.fake
    fake.admins[FORUM] = [ADMIN]
    group = {"chat_type": "supergroup", "user_id": ADMIN}
    (answer,) = await running_bot.say(FORUM, "/subscribe", thread_id=3, in_topic=False, **group)
    assert answer.get("message_thread_id") is None
