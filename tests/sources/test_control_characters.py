"""Control characters from a source (terminal escapes in a title) never reach what is stored (issue #11).

Every article, from a post file or a feed, passes `prepare_article`; ingest stores what it returns.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import IngestService
from bot.services.prepare import prepare_article
from bot.sources.posts import parse_post
from bot.sources.types import RawArticle
from db.models import Article

SHANGHAI = ZoneInfo("Asia/Shanghai")
BODY = (
    "据新华社报道，中科院合肥物质科学研究院的全超导托卡马克核聚变实验装置实现了1056秒的长脉冲高参数等离子体运行。"
    "这是目前世界上托卡马克装置高温等离子体运行的最长时间。"
)
HOSTILE_POST = (
    '\n---\ntitle: "核聚变\\a\\e[31m新纪录\\x9b"\nauthor: "观察者网\\e]0;pwned\\a"\n'
    'categories: ["新媒体\\e[0m", "\\a"]\ndate: 2022-05-05 16:28:04\n'
    "link: https://news.example.com/a\n---\n\n<p>" + BODY + "</p>\n"
)


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 and ch not in "\n\t" or 0x7F <= ord(ch) <= 0x9F for ch in text)


def test_a_post_with_escapes_in_its_front_matter_prepares_clean() -> None:
    raw = parse_post(HOSTILE_POST.encode(), origin="hostile.md", default_tz=SHANGHAI)
    assert "\x1b" in raw.title  # YAML's "\e" is ESC: the parser delivers what the file says

    prepared = prepare_article(raw, max_chars=150)
    assert prepared.title == "核聚变 [31m新纪录"
    assert prepared.raw.title == prepared.title
    assert prepared.raw.author == "观察者网 ]0;pwned"
    assert prepared.raw.categories == ("新媒体 [0m",)


def test_a_feed_item_with_escapes_prepares_clean() -> None:
    raw = RawArticle(
        title="Breaking\x07\x1b[31m news\r\nnow",
        body="<p>First\x1b[2J paragraph.</p>\r\n<p>Second\tparagraph\x00.</p>",
        body_format="html",
        origin="https://feeds.example.com/rss",
        link="https://news.example.com/a\x1b[31m?utm_source=x",
        author="\x1b[1mEditor\x1b[0m",
        categories=("World\x85", "World", "\x07"),
    )
    prepared = prepare_article(raw, max_chars=150)
    assert prepared.title == "Breaking [31m news now"
    assert prepared.raw.body == "<p>First[2J paragraph.</p>\n<p>Second\tparagraph.</p>"
    assert prepared.raw.author == "[1mEditor [0m"
    assert prepared.raw.categories == ("World",)
    assert prepared.link == "https://news.example.com/a%1B[31m"
    for value in (prepared.title, prepared.text, prepared.summary.text, prepared.terms, prepared.raw.body):
        assert not _has_control(value), repr(value)


def test_a_clean_article_is_left_as_it_is() -> None:
    raw = RawArticle(
        title="核聚变新纪录",
        body="<p>" + BODY + "</p>\n<p>第二段。</p>",
        body_format="html",
        origin="a.md",
        author="观察者网",
        categories=("新媒体", "观察者网"),
    )
    assert prepare_article(raw, max_chars=150).raw == raw


async def import_one(sessions: async_sessionmaker[AsyncSession], file: Path) -> Article:
    """The article stored by importing `file`, the only one in the database."""
    service = IngestService(sessions, default_tz=SHANGHAI, summary_max_chars=150, max_file_bytes=1_000_000)
    result = await service.import_paths([file])
    assert (result.imported, result.failed) == (1, [])
    async with sessions() as session:
        return (await session.scalars(select(Article))).one()


async def test_import_stores_a_clean_title_author_and_categories(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    (tmp_path / "hostile.md").write_text(HOSTILE_POST, encoding="utf-8")
    article = await import_one(sessions, tmp_path / "hostile.md")
    assert article.title == "核聚变 [31m新纪录"
    assert article.author == "观察者网 ]0;pwned"
    assert article.publisher == "观察者网 ]0;pwned"
    assert article.categories == "新媒体 [0m"
    for value in (article.title, article.text, article.html, article.publisher):
        assert not _has_control(value), repr(value)


async def test_import_goes_on_past_hostile_front_matter(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    (tmp_path / "bomb.md").write_text("\n---\ntitle: t\ntags: &x [*x]\n---\n\n<p>x</p>\n", encoding="utf-8")
    deep = "\n---\ntitle: t\ntags: " + "[" * 5000 + "\n---\n\nx\n"
    (tmp_path / "deep.md").write_text(deep, encoding="utf-8")
    (tmp_path / "good.md").write_text(HOSTILE_POST, encoding="utf-8")
    service = IngestService(sessions, default_tz=SHANGHAI, summary_max_chars=150, max_file_bytes=1_000_000)
    result = await service.import_paths([tmp_path])
    assert result.imported == 1
    reasons = sorted((Path(f.where).name, f.reason) for f in result.failed)
    assert reasons == [
        ("bomb.md", "front matter: aliases are not allowed (line 4)"),
        ("deep.md", "front matter: nested more than 20 levels deep (line 4)"),
    ]


def test_bidirectional_overrides_are_dropped_from_titles_bodies_and_links() -> None:
    raw = RawArticle(
        title="Invoice \u202egnp.exe\u202c paid",
        body="<p>Pay at \u2066evil\u2069 now.</p>",
        body_format="html",
        origin="https://feeds.example.com/rss",
        link="https://news.example.com/\u202ea",
        author="Desk\u202d",
    )
    prepared = prepare_article(raw, max_chars=150)
    assert prepared.title == "Invoice gnp.exe paid"
    assert prepared.raw.body == "<p>Pay at evil now.</p>"
    assert prepared.raw.author == "Desk"
    assert prepared.link == "https://news.example.com/%E2%80%AEa"


HOSTILE_FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
    "<title>Daily&#x1b;[31m \u202eNews&#x7;</title><link>https://news.example.com/</link>"
    "<item><title>One</title><link>https://news.example.com/1</link>"
    "<description>" + BODY + "</description></item></channel></rss>"
)


async def test_a_feed_title_with_escapes_becomes_a_clean_publisher(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    (tmp_path / "hostile.xml").write_text(HOSTILE_FEED, encoding="utf-8")
    article = await import_one(sessions, tmp_path / "hostile.xml")
    assert article.publisher == "Daily [31m News"
