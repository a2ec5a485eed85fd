"""Every corpus article, shown through every listing command, is valid Telegram HTML within the limits.

The fake Bot API server checks each message like Telegram does (entities parse, 4096/1024 limits) and refuses
what Telegram would refuse; a refused message would show up as a missing reply.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.render import render_digest, render_items
from bot.telegram_html import escape
from db.outbox import OutboxRepo
from db.repositories import latest_articles
from readmodels import DigestGroup
from tests.bot.conftest import RunningBot
from tests.fakes.telegram_server import parse_html, utf16_len

CHAT = 3003


async def settle(bot: RunningBot) -> None:
    """Wait until the bot has sent the whole reply (it may take several messages) and nothing more comes."""
    count = -1
    while count != len(bot.fake.sent(CHAT)) or await pending(bot):
        count = len(bot.fake.sent(CHAT))
        await asyncio.sleep(0.25)


async def pending(bot: RunningBot) -> int:
    async with bot.sessions() as session:
        return await OutboxRepo(session).pending_count()


async def test_every_corpus_article_renders_valid_messages(running_bot: RunningBot, corpus: Path) -> None:
    result = await running_bot.ingest.import_paths([corpus / "articles", corpus / "feeds"])
    assert result.imported > 250
    assert len(result.failed) == 2  # the two HTML pages posing as feeds

    async with running_bot.sessions() as session:
        everything = await latest_articles(session, limit=10_000)
    # the six sample articles of the fixture; the posts' labelled groups make 10 stored reports part of
    # another's story (tests/services/test_stories.py), and no two entries of one feed are one story
    assert len(everything) == result.imported + 6 - 10

    # /latest 20, then "more" until the end: every item of the corpus goes through Telegram once
    await running_bot.say(CHAT, "/latest 20")
    await settle(running_bot)
    pages = 1
    while True:
        markup = (running_bot.fake.sent(CHAT)[-1].get("reply_markup") or {}).get("inline_keyboard") or []
        # a page after the first has « Back before More
        forward = [b["callback_data"] for row in markup for b in row if b["text"] == "更多 »"]
        if not forward:
            break
        more = forward[0]
        await running_bot.press(CHAT, more, message_id=running_bot.last_message_id(CHAT))
        await settle(running_bot)
        pages += 1
    assert pages >= len(everything) // 20
    shown = "\n".join(m["text"] for m in running_bot.fake.sent(CHAT))
    for view in everything:
        assert escape(" ".join(view.title.split())[:10]) in shown, view.title

    for command in ("/topics", "/search 中国", "/search the", "/digest", "/sources"):
        await running_bot.say(CHAT, command)
    attempted = len(running_bot.fake.calls_to("sendMessage"))
    assert attempted == len(running_bot.fake.sent()), "Telegram refused a message"

    # a digest of the whole corpus, rendered as the scheduler would, is valid too
    groups = [DigestGroup(topic=view.tags[0] if view.tags else "其他", items=[view]) for view in everything]
    header = "<b>要闻摘要</b> · " + datetime.now(UTC).strftime("%Y-%m-%d")
    for chunk in render_digest(groups, tz=ZoneInfo("Asia/Shanghai"), header=header) + render_items(
        everything, tz=ZoneInfo("Asia/Shanghai")
    ):
        visible = parse_html(chunk)
        assert 0 < utf16_len(visible) <= 4096
        assert utf16_len(chunk) <= 4096
