"""A chat's commands and button presses run side by side (PTB's concurrent updates, or two processes behind a
webhook): each change of what the chat follows takes the chat's record in turn, so no change misses another.

On PostgreSQL the first change stays uncommitted until the second is seen waiting for the chat's row. SQLite
runs one writer at a time, and its second change starts its transaction at its first write, after the first
commits: there the test shows the same outcome without a wait to see.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import InvalidSetting
from bot.services.subscriptions import MAX_TOPICS, TOPIC, SubscriptionService
from db.repositories import SubscriberRepo
from readmodels import ChatContext
from tests.waiting import queued

CHAT = ChatContext(chat_id=7001, chat_kind="private", user_id=7001, language_code="zh-hans")
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def service(sessions: async_sessionmaker[AsyncSession]) -> SubscriptionService:
    return SubscriptionService(
        sessions, default_timezone="Asia/Shanghai", default_digest_time=time(8, 0), now=lambda: NOW
    )


async def test_removing_the_last_topic_while_another_is_added_keeps_the_digest(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
) -> None:
    """One press adds 足球 while another removes 芯片, the only topic so far. The removal once saw no topic
    left (the addition was not committed yet) and stopped the digest: the chat followed 足球, got nothing."""
    first, second = service(sessions), service(other_process)
    await first.subscribe(CHAT, ["芯片"])

    async def remove() -> object:
        return await second.unsubscribe(CHAT, ["芯片"])

    async with sessions() as session, session.begin():
        # what /subscribe 足球 does, held open: the chat's record, then the new topic
        subscriber = await first._subscriber(session, CHAT)
        await SubscriberRepo(session).add_values(subscriber, TOPIC, ["足球"], now=NOW)
        removing = asyncio.create_task(remove())
        await queued(database_url, sessions, removing, "the removal")
    await asyncio.wait_for(removing, timeout=30)

    following = await first.following(CHAT)
    assert following.topics == ["足球"]
    assert following.subscriber.wants_digest


async def test_two_subscribes_at_once_stay_within_the_topic_cap(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
) -> None:
    """The cap was counted in a transaction of its own before /subscribe's: two at once each counted without
    the other's topics, and the chat ended over MAX_TOPICS. Now it is counted under the chat's lock."""
    first, second = service(sessions), service(other_process)
    await first.subscribe(CHAT, [f"话题{n}" for n in range(MAX_TOPICS - 1)])

    async def one_more() -> object:
        return await second.subscribe(CHAT, ["最后一个"])

    async with sessions() as session, session.begin():
        subscriber = await first._subscriber(session, CHAT)  # what /subscribe 足球 does, held open
        await SubscriberRepo(session).add_values(subscriber, TOPIC, ["足球"], now=NOW)
        adding = asyncio.create_task(one_more())
        await queued(database_url, sessions, adding, "the second /subscribe")
    with pytest.raises(InvalidSetting):
        await asyncio.wait_for(adding, timeout=30)
    following = await first.following(CHAT)
    assert len(following.topics) == MAX_TOPICS
    assert "最后一个" not in following.topics
    # topics it follows already do not count again
    assert len((await first.subscribe(CHAT, ["足球", "话题1"])).topics) == MAX_TOPICS
