"""An undated item of an old feed is listed as old, not as today's news (issue #13: a 2017 feed's undated
item topped /latest): it takes the newest date its document knows, the feed's own or its newest entry's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import IngestService, listing_time
from bot.sources.feeds import parse_feed
from db.repositories import latest_articles

SHANGHAI = ZoneInfo("Asia/Shanghai")


def feed(*, channel_date: str = "", items: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>旧新闻</title><link>https://old.example.com/</link>{channel_date}
{items}
</channel></rss>""".encode()


UNDATED = "<item><title>没有日期的旧文章</title><link>https://old.example.com/undated</link></item>"
DATED = (
    "<item><title>有日期的旧文章</title><link>https://old.example.com/dated</link>"
    "<pubDate>Mon, 04 Sep 2017 08:00:00 GMT</pubDate></item>"
)


def test_an_undated_item_takes_the_feeds_own_date() -> None:
    parsed = parse_feed(
        feed(channel_date="<lastBuildDate>Thu, 31 Aug 2017 11:31:21 GMT</lastBuildDate>", items=UNDATED),
        origin="https://old.example.com/rss",
        default_tz=SHANGHAI,
    )
    (item,) = parsed.entries
    assert item.published is None  # not invented: the item stays undated
    assert item.dated_no_later_than == datetime(2017, 8, 31, 11, 31, 21, tzinfo=UTC)


def test_an_undated_item_takes_its_newest_dated_siblings_date() -> None:
    parsed = parse_feed(
        feed(items=UNDATED + DATED), origin="https://old.example.com/rss", default_tz=SHANGHAI
    )
    undated = next(e for e in parsed.entries if e.published is None)
    assert undated.dated_no_later_than == datetime(2017, 9, 4, 8, 0, tzinfo=UTC)


def test_an_undated_item_with_nothing_to_go_by_is_listed_now(corpus: Path) -> None:
    # the corpus's GB2312 test feed: one item, no date anywhere
    data = (corpus / "feeds" / "rssant__chardet-gb2312-no-declaration.xml").read_bytes()
    (item,) = parse_feed(data, origin="chardet.xml", default_tz=SHANGHAI).entries
    assert item.dated_no_later_than is None
    now = datetime.now(UTC)
    assert listing_time(item, now) == now


async def test_an_old_feeds_undated_item_does_not_top_latest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ingest = IngestService(sessions, default_tz=SHANGHAI, summary_max_chars=150, max_file_bytes=10_000_000)
    fresh = parse_feed(
        feed(
            items="<item><title>今天的新闻</title><link>https://new.example.com/1</link>"
            f"<pubDate>{(datetime.now(UTC) - timedelta(hours=1)).strftime('%a, %d %b %Y %H:%M:%S GMT')}"
            "</pubDate><description>今天发生的事情。</description></item>"
        ),
        origin="https://new.example.com/rss",
        default_tz=SHANGHAI,
    )
    old = parse_feed(feed(items=UNDATED + DATED), origin="https://old.example.com/rss", default_tz=SHANGHAI)
    await ingest.store_articles(fresh.entries)
    await ingest.store_articles(old.entries)
    async with sessions() as session:
        titles = [view.title for view in await latest_articles(session, limit=10)]
    assert titles[0] == "今天的新闻"
    assert titles.index("没有日期的旧文章") > 0


async def test_an_item_dated_in_the_future_is_listed_now_not_above_today_s_news(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A post dated 2990 (or a zone slip of some hours) stayed at the top of /latest until that date."""
    ingest = IngestService(sessions, default_tz=SHANGHAI, summary_max_chars=150, max_file_bytes=10_000_000)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    items = (
        "<item><title>来自未来的文章</title><link>https://future.example.com/1</link>"
        "<pubDate>Mon, 01 Jan 2990 00:00:00 GMT</pubDate><description>日期写错了。</description></item>"
        "<item><title>今天的新闻</title><link>https://future.example.com/2</link>"
        f"<pubDate>{hour_ago}</pubDate><description>今天发生的事情。</description></item>"
    )
    before = datetime.now(UTC)
    parsed = parse_feed(feed(items=items), origin="https://future.example.com/rss", default_tz=SHANGHAI)
    await ingest.store_articles(parsed.entries)
    async with sessions() as session:
        listed = {view.title: view for view in await latest_articles(session, limit=10)}
    future = listed["来自未来的文章"]
    assert future.published_at is not None  # its own date is kept
    assert future.published_at.year == 2990
    assert before <= future.listed_at <= datetime.now(UTC)
