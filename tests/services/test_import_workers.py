"""`newsbot import` of many files: prepared in worker processes, stored in batches (bot/services/ingest.py,
bot/services/import_workers.py). What is stored does not depend on how many processes prepared it, a worker
that dies costs only its file, and an article the database refuses costs only itself."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.services.import_workers import prepare_in_workers
from bot.services.ingest import IngestService
from db.engine import make_engine, make_sessionmaker, upgrade_schema
from db.models import Article, ArticleTag, Summary, Tag

SHANGHAI = ZoneInfo("Asia/Shanghai")
POST = """---
title: '{title}'
author: 观察者网
date: 2022-05-05 16:28:04
link: https://example.com/{n}
---
<p>{body}</p>
"""
POISON = "数据库拒收的标题"


def service(sessions: async_sessionmaker[AsyncSession], workers: int) -> IngestService:
    return IngestService(
        sessions, default_tz=SHANGHAI, summary_max_chars=150, max_file_bytes=10_000_000, workers=workers
    )


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[object, ...]]:
    """Every article's file, title, summary, language, tags and the file of its story's lead, by file (two
    outlets' reports may share a title: 0053 and 0054)."""
    lead = aliased(Article)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Article.id, Article.origin, Article.title, Summary.text, Article.language, lead.origin)
                .join(Summary, Summary.article_id == Article.id)
                .join(lead, lead.id == Article.story_id)
                .order_by(Article.origin)
            )
        ).all()
        return [(*row[1:], tuple(await article_tags(session, row[0]))) for row in rows]


async def article_tags(session: AsyncSession, article_id: int) -> list[str]:
    return list(
        await session.scalars(
            select(Tag.name)
            .join(ArticleTag, ArticleTag.tag_id == Tag.id)
            .where(ArticleTag.article_id == article_id)
            .order_by(ArticleTag.rank)
        )
    )


async def test_workers_store_what_one_process_stores(
    sessions: async_sessionmaker[AsyncSession], corpus: Path, tmp_path: Path
) -> None:
    progress: list[tuple[int, int]] = []
    pooled = await service(sessions, workers=2).import_paths(
        [corpus / "articles"], on_file=lambda done, total: progress.append((done, total))
    )
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-process.db'}")
    try:
        await upgrade_schema(engine)
        alone = make_sessionmaker(engine)
        single = await service(alone, workers=1).import_paths([corpus / "articles"])
        assert (pooled.imported, pooled.duplicates, pooled.failed) == (single.imported, single.duplicates, [])
        assert (pooled.imported, pooled.duplicates) == (50, 4)
        # a progress display hears of every file: in order, all of them in the end
        assert progress == sorted(progress)
        assert progress[-1] == (54, 54)
        assert {total for _, total in progress} == {54}
        assert await stored(sessions) == await stored(alone)
    finally:
        await engine.dispose()


def prepare_or_die(path: Path) -> str:
    """A worker's work that kills its process for one file, as the OOM killer or a crashing parser would."""
    if path.name == "fatal.md":
        os._exit(3)
    return path.name


async def test_a_file_that_kills_its_worker_costs_only_itself(tmp_path: Path) -> None:
    names = ["a.md", "b.md", "fatal.md", "c.md", "d.md"]
    files: list[Path | str] = [tmp_path / n for n in names]
    files.insert(1, "listed earlier as a failure")  # not a path: handed back as it came, in its place
    results = [
        r
        async for r in prepare_in_workers(
            files, prepare_or_die, workers=2, ahead=8, lost=lambda p: f"lost {p.name}"
        )
    ]
    assert results == ["a.md", "listed earlier as a failure", "b.md", "lost fatal.md", "c.md", "d.md"]


async def refuse_poison(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A trigger in the database that refuses one article, as a constraint or a full disk refuses a row."""
    async with sessions() as session, session.begin():
        if session.bind.dialect.name == "sqlite":
            await session.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON articles "
                    f"WHEN NEW.title = '{POISON}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            await session.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.title = '{POISON}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            await session.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON articles "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )


async def test_an_article_the_database_refuses_costs_only_itself(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await refuse_poison(sessions)
    titles = ["核聚变装置创纪录", "芯片企业融资", POISON, "女足获亚军", "高铁新线开通"]
    for n, title in enumerate(titles):
        body = f"{title}。这是第{n}篇测试新闻的正文，讲述了当天发生的事情和各方的反应。"
        (tmp_path / f"{n}.md").write_text(POST.format(title=title, n=n, body=body), encoding="utf-8")
    result = await service(sessions, workers=1).import_paths([tmp_path])
    # stored in one transaction first; refused, then each in its own
    assert result.imported == 4
    assert result.imported + result.duplicates + len(result.failed) == 5
    async with sessions() as session:
        kept = sorted(await session.scalars(select(Article.title)))
    assert kept == sorted(t for t in titles if t != POISON)
