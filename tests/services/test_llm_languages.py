"""Issue #13: with an LLM configured, a reader may ask for summaries in their own language. They are made
in the background for the languages readers chose, stored per language (the article's own summary stays
what everyone else sees), cached like the others, and shown in /latest, /search, /digest and the daily
digest of the readers who asked. The LLM is a local server speaking OpenAI's API, driven through the real
client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.composition import Services, open_services
from bot.config import load_settings
from bot.services.llm import translation_version
from bot.sources.types import RawArticle
from db.models import LlmRequest, Summary
from readmodels import ChatContext
from tests.bot.conftest import bot_serving
from tests.fakes.openai_server import SUMMARIES, FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram

ENGLISH_READER = ChatContext(chat_id=11, chat_kind="private", user_id=11, language_code="en")
CHINESE_READER = ChatContext(chat_id=12, chat_kind="private", user_id=12, language_code="zh-hans")
# reads the bot in English, the summaries as written
ORIGINAL_READER = ChatContext(chat_id=13, chat_kind="private", user_id=13, language_code="en")
NOW = datetime.now(UTC)
STORY = RawArticle(
    title="国产大飞机完成第一百架交付",
    body="<p>国产大飞机今天完成第一百架交付，航空公司将于下月投入运营。业内人士认为，这标志着国产民机进入批量交付阶段。</p>",
    body_format="html",
    origin="test:plane",
    link="https://news.example.com/plane",
    author="测试新闻",
    published=NOW - timedelta(hours=1),
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def services(database_url: str, fake: FakeOpenAI) -> AsyncIterator[Services]:
    settings = load_settings(
        env_file=None,
        database_url=database_url,
        openai_api_key="test-key",
        openai_base_url=fake.base_url,
        openai_model="test-model",
    )
    async with open_services(settings) as built:
        yield built


async def shown(services: Services, reader: ChatContext, command: str, *args: str) -> str:
    return "\n".join((await services.commands.handle(reader, command, list(args))).chunks)


async def test_a_reader_gets_summaries_in_their_language(services: Services, fake: FakeOpenAI) -> None:
    llm = services.llm
    assert llm is not None
    await services.ingest.store_articles([STORY])
    assert (await llm.upgrade_recent()).upgraded == 1  # the article's own summary, in Chinese
    chinese = SUMMARIES["zh"]

    saved = await shown(services, ENGLISH_READER, "settings", "summaries", "en")
    assert "Summaries in: English" in saved
    report = await llm.translate_recent()
    assert report.upgraded == 1
    assert "Language: en" in fake.requests[-1]["messages"][-1]["content"]  # asked in the reader's language

    async with services.sessions() as session:
        rows = (await session.execute(select(Summary.language, Summary.text).where(Summary.is_current))).all()
        requests = (await session.execute(select(LlmRequest.prompt_version))).scalars().all()
    assert sorted(rows, key=lambda r: r[0] or "") == [(None, chinese), ("en", SUMMARIES["en"])]
    assert translation_version("en") in requests

    # the reader who asked sees English everywhere; the others the article's own summary
    await shown(services, ENGLISH_READER, "subscribe")
    assert chinese in await shown(services, CHINESE_READER, "latest")
    for command, args in (("latest", ()), ("search", ("大飞机",)), ("digest", ())):
        english = await shown(services, ENGLISH_READER, command, *args)
        assert SUMMARIES["en"] in english
        assert chinese not in english
        assert chinese in await shown(services, CHINESE_READER, command, *args)
    # in one daily run beside a chat of the same interface language that reads summaries as written (the
    # two once shared the digest of whichever was built first)
    await shown(services, ORIGINAL_READER, "subscribe")
    daily = {d.subscriber.chat_id: "\n".join(d.chunks) for d in await services.digests.plan(force=True)}
    assert SUMMARIES["en"] in daily[11]
    assert chinese in daily[13]
    assert SUMMARIES["en"] not in daily[13]

    # done once: a second pass asks nothing, and an article written in English needs no translation
    before = fake.count
    assert (await llm.translate_recent()).upgraded == 0
    assert fake.count == before


async def test_the_same_text_elsewhere_comes_from_the_cache(services: Services, fake: FakeOpenAI) -> None:
    llm = services.llm
    assert llm is not None
    await shown(services, ENGLISH_READER, "settings", "summaries", "en")
    await services.ingest.store_articles([STORY])
    assert (await llm.translate_recent()).upgraded == 1
    async with services.sessions() as session, session.begin():
        await session.execute(Summary.__table__.delete().where(Summary.language == "en"))
    before = fake.count
    assert (await llm.translate_recent()).cached == 1
    assert fake.count == before


async def test_without_an_llm_the_setting_says_so(database_url: str) -> None:
    settings = load_settings(env_file=None, database_url=database_url)
    async with open_services(settings) as services:
        answer = await shown(services, ENGLISH_READER, "settings", "summaries", "en")
        assert "need an LLM" in answer
        menu = await shown(services, ENGLISH_READER, "settings")
        assert "Summaries in" not in menu


async def test_through_telegram(services: Services) -> None:
    """The same through the real PTB application against the fake Bot API server."""
    llm = services.llm
    assert llm is not None
    await services.ingest.store_articles([STORY])
    async with FakeTelegram() as telegram, bot_serving(services, telegram) as running:
        (saved,) = await running.say(21, "/settings summaries en", language_code="en")
        assert "Summaries in: English" in saved["text"]
        (before,) = await running.say(21, "/latest 1", language_code="en")
        assert SUMMARIES["en"] not in before["text"]
        await llm.translate_recent()
        (after,) = await running.say(21, "/latest 1", language_code="en")
        assert SUMMARIES["en"] in after["text"]
