"""What a reader sees of stories through the commands (issue #12): one item per story in /latest and /search,
with the story's other publishers under it (the digests: tests/services/test_stories.py)."""

from __future__ import annotations

from pathlib import Path

from bot.composition import Services
from readmodels import ChatContext

READER = ChatContext(chat_id=811, chat_kind="private", user_id=811, language_code="zh-hans")


async def test_latest_and_search_show_the_nuclear_story_once_with_36kr_under_it(
    services: Services, corpus: Path
) -> None:
    await services.ingest.import_paths([corpus / "articles"])
    page = await services.reading.latest(limit=50)
    assert [v.title for v in page.items].count("1-5月我国核能发电量同比上升4.5%") == 1
    assert len(page.items) == 40  # the corpus's 54 posts are 40 stories
    latest = "\n".join((await services.commands.handle(READER, "latest", ["20"])).chunks)
    assert "↳ " in latest  # some of the newest 20 stories were carried by several publishers
    searched = "\n".join((await services.commands.handle(READER, "search", ["核能发电"])).chunks)
    assert searched.count("1-5月我国核能发电量同比上升4.5%") == 1
    assert "↳ 36kr" in searched  # 36kr's report has no link (the pipeline's posts have none)

