"""The daily digest schedule with a controllable clock: due times per zone, exactly once, catch-up after
downtime."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.digest_messages import DigestMessages
from bot.services.digests import DigestService
from bot.services.ingest import IngestService
from bot.services.subscriptions import SubscriptionService
from bot.sources.types import RawArticle
from db.models import Delivery, OutboxMessage, Subscriber
from readmodels import ChatContext

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value

    def set_local(self, day: int, hour: int, minute: int = 0) -> None:
        self.value = datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def article(n: int, title: str, body: str, published: datetime) -> RawArticle:
    return RawArticle(
        title=title, body=body, body_format="text", origin=f"t{n}", link=f"https://e.com/{n}", author="测试",
        published=published,
    )


CHIP = ("国产芯片企业融资创新高", "今年以来国产芯片企业融资总额创新高。多家芯片设计公司完成大额融资。")
FOOTBALL = ("中国女足获东亚杯亚军", "中国女足战平日本队，获得东亚杯亚军。主教练表示将继续备战亚运会。")
WEATHER = ("北京今晨气温创同期新低", "受寒潮影响北京今晨最低气温降至零下十度，创五十二年来同期最低。")


async def setup(
    sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> tuple[DigestService, SubscriptionService, IngestService]:
    subs = SubscriptionService(
        sessions, default_timezone="Asia/Shanghai", default_digest_time=time(8, 0), now=clock
    )
    ingest = IngestService(
        sessions, default_tz=SHANGHAI, summary_max_chars=150, max_file_bytes=10**7, now=clock
    )
    return DigestService(sessions, writer=DigestMessages(), now=clock), subs, ingest


async def outbox_by_chat(sessions: async_sessionmaker[AsyncSession]) -> dict[int, list[str]]:
    async with sessions() as session:
        query = select(OutboxMessage.chat_id, OutboxMessage.text).order_by(OutboxMessage.id)
        rows = (await session.execute(query)).all()
    found: dict[int, list[str]] = {}
    for chat_id, text in rows:
        found.setdefault(chat_id, []).append(text)
    return found


async def set_subscriber(sessions: async_sessionmaker[AsyncSession], **values: object) -> None:
    """Set columns of the one subscriber directly, as a clock that was wrong or another process left them."""
    async with sessions() as session, session.begin():
        await session.execute(update(Subscriber).values(**values))


async def test_digest_is_due_at_local_time_once_a_day(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(25, 7, 59)
    digests, subs, ingest = await setup(sessions, clock)
    everything = ChatContext(1, "private", 1, "zh-hans")
    chips = ChatContext(2, "private", 2, "en")
    london = ChatContext(3, "private", 3, "en")
    await subs.subscribe(everything, [])
    await subs.subscribe(chips, ["芯片"])
    await subs.subscribe(london, [])
    await subs.update_settings(london, timezone="Europe/London", digest_time=time(7, 30))
    await subs.touch(ChatContext(4, "private", 4, None))  # never subscribed
    await ingest.store_articles(
        [
            article(i, title, body, clock() - timedelta(hours=i + 1))
            for i, (title, body) in enumerate([CHIP, FOOTBALL, WEATHER])
        ]
    )

    # 07:59 in Shanghai: not yet. 23:59 in London, after its 07:30, but the London chat set its time zone
    # just now, and a change of settings never sends a digest by itself: London's first is the 25th's
    report = await digests.run()
    assert report.enqueued == 0
    clock.set_local(25, 8, 0)
    report = await digests.run()
    assert report.enqueued == 2
    assert report.empty == 0
    sent = await outbox_by_chat(sessions)
    assert set(sent) == {1, 2}
    assert all(title in sent[1][0] for title, _ in (CHIP, FOOTBALL, WEATHER))
    assert CHIP[0] in sent[2][0]
    assert FOOTBALL[0] not in sent[2][0]
    assert sent[2][0].startswith("<b>Digest</b> · 2026-11-25")  # English client

    clock.set_local(25, 9, 0)
    assert (await digests.run()).enqueued == 0  # once a day
    clock.set_local(25, 15, 30)  # 07:30 on the 25th in London: its first digest, the last 24 hours
    report = await digests.run()
    assert (report.enqueued, report.empty) == (1, 0)
    london_digest = (await outbox_by_chat(sessions))[3]
    assert len(london_digest) == 1
    assert all(title in london_digest[0] for title, _ in (CHIP, FOOTBALL, WEATHER))

    # the next day: only what is new since the previous digest; nothing new for the chip follower
    clock.set_local(26, 6, 0)
    await ingest.store_articles(
        [article(10, "上海发布新的交通管理办法", "上海市今天发布新的交通管理办法，明年起施行。", clock())]
    )
    clock.set_local(26, 8, 5)
    report = await digests.run()
    assert (report.enqueued, report.empty) == (1, 1)
    latest = (await outbox_by_chat(sessions))[1][-1]
    assert "上海发布新的交通管理办法" in latest
    assert CHIP[0] not in latest
    async with sessions() as session:
        empty = await session.scalar(
            select(Delivery).where(Delivery.chat_id == 2, Delivery.status == "empty")
        )
        assert empty is not None
        assert len((await outbox_by_chat(sessions))[2]) == 1


async def test_a_chat_moving_west_across_a_date_gets_the_next_day_s_digest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Tokyo's digest of the 26th goes out at 23:00 UTC on the 25th; the reader flies to Los Angeles, where
    it is still the 25th. Los Angeles' digest of the 26th once met the Tokyo row's date in the unique key
    (chat, date): counted as already done, at every run, all day."""
    clock = Clock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    digests, subs, ingest = await setup(sessions, clock)
    reader = ChatContext(7, "private", 7, "en")
    await subs.subscribe(reader, [])
    await subs.update_settings(reader, timezone="Asia/Tokyo")
    for n, at in enumerate(
        [datetime(2026, 11, 25, 23, 0, tzinfo=UTC), datetime(2026, 11, 26, 16, 0, tzinfo=UTC)]
    ):
        clock.value = at - timedelta(minutes=30)
        title, body = (CHIP, FOOTBALL)[n]
        await ingest.store_articles([article(20 + n, title, body, clock())])
        if n == 1:
            clock.value = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # landed: 15:30 on the 25th in LA
            await subs.update_settings(reader, timezone="America/Los_Angeles")
        clock.value = at  # 08:00 on the 26th, in Tokyo, then in Los Angeles
        report = await digests.run()
        assert (report.enqueued, report.already_done) == (1, 0)
    sent = (await outbox_by_chat(sessions))[7]
    assert len(sent) == 2
    assert FOOTBALL[0] in sent[1]
    clock.value = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    assert (await digests.run()).enqueued == 0  # once a day, in the new zone too


async def test_after_downtime_one_digest_not_one_per_missed_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(20, 8, 0)
    digests, subs, ingest = await setup(sessions, clock)
    await subs.subscribe(ChatContext(1, "private", 1, "zh"), [])
    await ingest.store_articles([article(1, *CHIP, clock() - timedelta(hours=1))])
    assert (await digests.run()).enqueued == 1
    # down from the 20th to the 24th at noon; articles kept arriving meanwhile
    missed = [FOOTBALL, WEATHER, ("上海发布新的交通管理办法", "上海市今天发布新的交通管理办法，明年起施行。")]
    for d in range(3):
        clock.set_local(21 + d, 8, 0)
        await ingest.store_articles([article(2 + d, *missed[d], clock())])
    clock.set_local(24, 12, 0)
    report = await digests.run()
    assert report.enqueued == 1
    assert (await digests.run()).enqueued == 0
    texts = (await outbox_by_chat(sessions))[1]
    assert len(texts) == 2
    assert all(title in texts[1] for title, _ in missed)
    async with sessions() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 2


async def test_a_setting_changed_after_the_digest_time_cancels_only_a_moved_digest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Back after downtime at 09:30 (or behind a long run), a reader turns on link previews before the
    digest job comes round: today's 08:00 digest once stayed cancelled, as if the digest had been moved.
    Moving it (a time that has passed, another time zone) still waits for the next day."""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(24, 7, 0)
    digests, subs, ingest = await setup(sessions, clock)
    previews, silent, mover, traveller = (ChatContext(n, "private", n, "zh") for n in (1, 2, 3, 4))
    for chat in (previews, silent, mover, traveller):
        await subs.subscribe(chat, [])
    await ingest.store_articles([article(1, *CHIP, clock() - timedelta(hours=1))])
    clock.set_local(24, 9, 30)
    await subs.update_settings(previews, link_previews=True, digest_size=5)
    await subs.update_settings(silent, silent=True, language="en", digest_time=time(8, 0))  # the same time
    await subs.update_settings(mover, digest_time=time(9, 0))
    await subs.update_settings(traveller, timezone="Asia/Hong_Kong")  # the same hour, another zone

    assert (await digests.run()).enqueued == 2
    assert set(await outbox_by_chat(sessions)) == {1, 2}
    clock.set_local(25, 9, 0)
    await ingest.store_articles([article(2, *WEATHER, clock() - timedelta(hours=1))])
    assert (await digests.run()).enqueued == 4


async def test_concurrent_runs_store_each_digest_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(25, 9, 0)
    digests, subs, ingest = await setup(sessions, clock)
    for chat in range(1, 41):
        await subs.subscribe(ChatContext(chat, "private", chat, "zh"), [])
    await ingest.store_articles([article(1, *CHIP, clock() - timedelta(hours=1))])
    # a second process, e.g. a restart overlapping the old one
    other = DigestService(sessions, writer=DigestMessages(), now=clock)
    first, second = await asyncio.gather(digests.run(), other.run())
    assert first.enqueued + second.enqueued == 40
    async with sessions() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 40
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 40


async def test_inactive_chats_and_topics_without_news_get_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(25, 9, 0)
    digests, subs, ingest = await setup(sessions, clock)
    await subs.subscribe(ChatContext(1, "private", 1, "zh"), [])
    await subs.subscribe(ChatContext(2, "group", None, None, "群"), ["火星"])
    async with sessions() as session, session.begin():
        blocked = await session.scalar(select(Subscriber).where(Subscriber.chat_id == 1))
        assert blocked is not None
        blocked.active = False
    await ingest.store_articles([article(1, *CHIP, clock() - timedelta(hours=1))])
    report = await digests.run()
    assert (report.enqueued, report.empty) == (0, 1)
    assert await outbox_by_chat(sessions) == {}


async def test_a_story_dated_before_a_digest_but_stored_after_it_is_in_the_next(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A feed polled at 08:05 brings an item it dates 07:55; an inbox post written at 12:00 is dated 06:00.
    Both are news to the readers of the 08:00 digest, which never carried them: they are in the next one.
    (The window went by the stories' dates: neither was in any digest, ever.) A story dated days before is
    not news however late it arrives."""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(24, 7)
    digests, subs, ingest = await setup(sessions, clock)
    chat = ChatContext(1, "private", 1, "zh-hans")
    await subs.subscribe(chat, [])
    await ingest.store_articles([article(0, *CHIP, clock() - timedelta(hours=1))])
    clock.set_local(24, 8)
    assert (await digests.run()).enqueued == 1
    clock.set_local(24, 8, 5)
    await ingest.store_articles([article(1, *FOOTBALL, datetime(2026, 11, 24, 7, 55, tzinfo=SHANGHAI))])
    clock.set_local(24, 12)
    await ingest.store_articles([article(2, *WEATHER, datetime(2026, 11, 24, 6, tzinfo=SHANGHAI))])
    old = ("上海发布新的交通管理办法", "上海市今天发布新的交通管理办法，明年起施行。新办法对电动车作出规定。")
    await ingest.store_articles([article(3, *old, datetime(2026, 11, 20, 6, tzinfo=SHANGHAI))])
    for day in (25, 26):
        clock.set_local(day, 8)
        await digests.run()
    sent = (await outbox_by_chat(sessions))[1]
    assert [CHIP[0] in text for text in sent] == [True, False]
    assert [FOOTBALL[0] in text for text in sent] == [False, True]
    assert [WEATHER[0] in text for text in sent] == [False, True]
    assert not any(old[0] in text for text in sent)


async def test_a_story_that_began_after_a_digest_is_in_the_next_whatever_its_lead_s_date(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A story begins at 09:00; a fuller report dated 07:30 arrives at 10:00 and leads it. The story is
    news since the 08:00 digest (it was in none: its lead's date was before that digest)."""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(24, 7)
    digests, subs, ingest = await setup(sessions, clock)
    await subs.subscribe(ChatContext(1, "private", 1, "zh-hans"), [])
    await ingest.store_articles([article(0, *FOOTBALL, clock())])
    clock.set_local(24, 8)
    await digests.run()
    clock.set_local(24, 9)
    await ingest.store_articles([article(1, *CHIP, clock())])
    clock.set_local(24, 10)
    fuller = (CHIP[0], CHIP[1] + "业内人士表示，融资热潮也带来估值过高的风险，企业需要把资金用在研发上。")
    await ingest.store_articles([article(2, *fuller, datetime(2026, 11, 24, 7, 30, tzinfo=SHANGHAI))])
    clock.set_local(25, 8)
    await digests.run()
    sent = (await outbox_by_chat(sessions))[1]
    assert [CHIP[0] in text for text in sent] == [False, True]


async def test_a_story_that_grew_is_not_sent_again_whoever_else_is_due(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Chat 1's digest carried a story; a fuller report leads it afterwards. On the next day chat 1 does not
    get it again, whether or not a chat with an older window (back from a pause) is due in the same run."""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(23, 7)
    digests, subs, ingest = await setup(sessions, clock)
    first, back = ChatContext(1, "private", 1, "zh-hans"), ChatContext(2, "private", 2, "zh-hans")
    await subs.subscribe(first, [])
    await subs.subscribe(back, [])
    clock.set_local(23, 8)
    await digests.run()
    clock.set_local(23, 9)
    await subs.pause(back, 1)  # no digest on the 24th: chat 2's next window starts a day before chat 1's
    clock.set_local(24, 7)
    await ingest.store_articles([article(0, *CHIP, clock())])
    clock.set_local(24, 8)
    await digests.run()
    clock.set_local(24, 10)
    fuller = (CHIP[0], CHIP[1] + "业内人士表示，融资热潮也带来估值过高的风险，企业需要把资金用在研发上。")
    await ingest.store_articles([article(1, *fuller, clock())])
    clock.set_local(25, 8)
    await digests.run()
    sent = await outbox_by_chat(sessions)
    assert [CHIP[0] in text for text in sent[1]] == [True]
    assert sum(CHIP[0] in text for text in sent[2]) == 1


async def test_a_pause_skips_that_many_digests_and_resumes_at_the_digest_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A pause of one day set at 22:00, after the day's digest: the next day's digest is skipped and the one
    after comes at 08:00. (It ended at 22:00 the next day, and that day's digest went out at 22:00.)"""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(24, 7)
    digests, subs, ingest = await setup(sessions, clock)
    chat = ChatContext(1, "private", 1, "zh-hans")
    await subs.subscribe(chat, [])
    await ingest.store_articles([article(0, *CHIP, clock())])
    clock.set_local(24, 8)
    await digests.run()
    clock.set_local(24, 22)
    paused = await subs.pause(chat, 1)
    assert paused.paused_until == datetime(2026, 11, 26, tzinfo=SHANGHAI)
    sent_at = []
    for day in (25, 26):
        await ingest.store_articles([article(day, *(FOOTBALL if day == 25 else WEATHER), clock())])
        for hour in range(24):
            clock.set_local(day, hour)
            if (await digests.run()).enqueued:
                sent_at.append((day, hour))
    assert sent_at == [(26, 8)]
    # paused before the day's digest time, the same day's is the one skipped
    clock.set_local(27, 7)
    assert (await subs.pause(chat, 1)).paused_until == datetime(2026, 11, 28, tzinfo=SHANGHAI)


async def test_a_digest_moved_into_the_hour_skipped_in_spring_waits_for_tomorrow(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """New York, 2026-03-08: clocks jump from 02:00 to 03:00. At 03:10 a reader moves the 05:00 digest to
    02:30, a time that has passed today, as on any other day: the digest comes tomorrow at 02:30, not at once
    (02:30 was read as 03:30, still to come)."""
    new_york = ZoneInfo("America/New_York")
    clock = Clock(datetime(2026, 3, 7, 12, tzinfo=new_york).astimezone(UTC))
    digests, subs, ingest = await setup(sessions, clock)
    chat = ChatContext(1, "private", 1, "zh-hans")
    await subs.subscribe(chat, [])
    await subs.update_settings(chat, timezone="America/New_York", digest_time=time(5, 0))
    clock.value = datetime(2026, 3, 8, 3, 10, tzinfo=new_york).astimezone(UTC)
    await subs.update_settings(chat, digest_time=time(2, 30))
    clock.value = datetime(2026, 3, 8, 3, 11, tzinfo=new_york).astimezone(UTC)
    await ingest.store_articles([article(0, *CHIP, clock())])
    assert (await digests.run()).enqueued == 0
    clock.value = datetime(2026, 3, 9, 2, 30, tzinfo=new_york).astimezone(UTC)
    assert (await digests.run()).enqueued == 1


async def test_a_clock_set_forward_then_back_loses_no_digest_and_no_news(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The server's clock ran a day ahead when the digest went out (stamped the 25th, 08:00), then was set
    right. The 24th's digest still goes out with the day's news, and so does the real 25th's. (Before, the
    stamp counted as served until the 26th: no digest on the 24th or the 25th, and the 24th's news, stored
    before the stamp, was in none; the 25th's date was taken by the stamped digest.)"""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(24, 7)
    digests, subs, ingest = await setup(sessions, clock)
    await subs.subscribe(ChatContext(1, "private", 1, "zh-hans"), [])
    clock.set_local(25, 8)  # a day ahead
    await ingest.store_articles([article(0, *CHIP, clock() - timedelta(hours=1))])
    assert (await digests.run()).enqueued == 1
    clock.set_local(24, 7, 30)  # set right
    await ingest.store_articles([article(1, *FOOTBALL, clock())])
    clock.set_local(24, 8)
    assert (await digests.run()).enqueued == 1
    assert (await digests.run()).enqueued == 0  # once a day still
    clock.set_local(25, 7, 30)
    await ingest.store_articles([article(2, *WEATHER, clock())])
    clock.set_local(25, 8)
    assert (await digests.run()).enqueued == 1
    sent = (await outbox_by_chat(sessions))[1]
    assert [FOOTBALL[0] in text for text in sent] == [False, True, False]
    assert [WEATHER[0] in text for text in sent] == [False, False, True]
    async with sessions() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 3


async def test_a_clock_a_few_minutes_ahead_on_another_server_sends_nothing_twice(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two processes whose clocks disagree by minutes: the digest stamped by the one ahead is believed, across
    midnight too. (Guards the margin of the test above: read as a clock set back, the other process sent the
    same news again as the 24th's digest.)"""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(24, 7)
    digests, subs, ingest = await setup(sessions, clock)
    await subs.subscribe(ChatContext(1, "private", 1, "zh-hans"), [])
    await ingest.store_articles([article(0, *CHIP, clock())])
    await set_subscriber(sessions, digest_time=time(0, 0))
    clock.set_local(25, 0, 2)  # the process ahead serves the 25th just after its midnight
    assert (await digests.run()).enqueued == 1
    clock.set_local(24, 23, 58)  # the other, four minutes behind, runs
    report = await digests.run()
    assert (report.enqueued, report.empty) == (0, 0)
    assert len((await outbox_by_chat(sessions))[1]) == 1


async def test_a_digest_move_stamped_by_a_clock_ahead_does_not_hold_today_s_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The digest time was changed while the clock ran a day ahead (stamped the 25th); the clock was set
    right. The 24th's digest goes out at its time: the change happened before it, whenever exactly. (Before,
    a change stamped after today's digest time held that digest back: none until the 26th.)"""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    clock.set_local(24, 7)
    digests, subs, ingest = await setup(sessions, clock)
    await subs.subscribe(ChatContext(1, "private", 1, "zh-hans"), [])
    await ingest.store_articles([article(0, *FOOTBALL, clock())])
    await set_subscriber(sessions, schedule_changed_at=datetime(2026, 11, 25, 7, tzinfo=SHANGHAI))
    clock.set_local(24, 8)
    assert (await digests.run()).enqueued == 1
    assert FOOTBALL[0] in (await outbox_by_chat(sessions))[1][0]
