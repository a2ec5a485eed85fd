"""bot.sources.files: which files are article files, and the one "feed or post?" rule for their bytes."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.sources.files import is_article_file, parse_article_file, parse_feed_or_post
from bot.sources.types import FeedParseError, ParsedFeed, PostParseError, RawArticle

SHANGHAI = ZoneInfo("Asia/Shanghai")

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Example News</title><link>https://news.example.com/</link>
<item><title>First story</title><link>https://news.example.com/1</link><description>One.</description></item>
<item><title>Second story</title><link>https://news.example.com/2</link><description>Two.</description></item>
</channel></rss>
"""
ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom News</title>
<entry><title>Only entry</title><link href="https://atom.example.com/a"/><id>urn:a</id>
<updated>2024-01-02T03:04:05Z</updated><summary>Text.</summary></entry></feed>
"""
EMPTY_FEED = b'<rss version="2.0"><channel><title>Quiet</title><link>https://quiet.example.com/</link></channel></rss>'
POST = "---\ntitle: 上海发布新规\ndate: 2024-01-02 10:00\n---\n\n上海市今天发布新的交通管理办法。\n".encode()
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Page</title></head><body><p>Hello.</p></body></html>"


def parse(data: bytes, suffix: str, origin: str = "in/file") -> list[RawArticle]:
    return parse_article_file(data, origin=origin, suffix=suffix, default_tz=SHANGHAI)


@pytest.mark.parametrize("suffix", [".xml", ".rss", ".atom", ".RSS", ".md", ".html", ".txt", ""])
def test_a_feed_is_a_feed_by_suffix_or_by_its_content(suffix: str) -> None:
    articles = parse(RSS, suffix)
    assert [a.title for a in articles] == ["First story", "Second story"]
    assert [a.link for a in articles] == ["https://news.example.com/1", "https://news.example.com/2"]
    assert {a.origin for a in articles} == {"in/file"}


def test_an_atom_feed_without_a_feed_suffix_is_sniffed() -> None:
    (article,) = parse(ATOM, ".markdown")
    assert article.title == "Only entry"
    assert article.link == "https://atom.example.com/a"


@pytest.mark.parametrize("suffix", [".md", ".markdown", ".html", ".txt", ""])
def test_anything_else_is_one_post(suffix: str) -> None:
    (article,) = parse(POST, suffix)
    assert article.title == "上海发布新规"
    assert article.body_format == "markdown"
    assert article.origin == "in/file"
    assert article.published is not None


def test_a_feed_suffix_forces_feed_parsing_whatever_the_content() -> None:
    # the same HTML page is a (bad) feed when named .xml and a (bad) post when named .html
    with pytest.raises(FeedParseError, match="an HTML page, not a feed"):
        parse(HTML_PAGE, ".XML")
    with pytest.raises(PostParseError):
        parse(HTML_PAGE, ".html")
    with pytest.raises(FeedParseError, match="not XML"):
        parse(POST, ".atom")


def test_a_feed_without_entries_is_an_error_naming_the_file() -> None:
    with pytest.raises(FeedParseError) as caught:
        parse(EMPTY_FEED, ".rss", origin="feeds/quiet.rss")
    assert caught.value.where == "feeds/quiet.rss"
    assert caught.value.reason == "feed has no entries"


def test_an_unreadable_post_is_a_post_error() -> None:
    with pytest.raises(PostParseError, match="not UTF-8"):
        parse(b"\x00\xff\xfe" * 100, ".md")


def test_parse_feed_or_post_keeps_the_feed_for_its_title_and_link() -> None:
    feed = parse_feed_or_post(RSS, origin="f.xml", suffix=".xml", default_tz=SHANGHAI)
    assert isinstance(feed, ParsedFeed)
    assert feed.title == "Example News"
    assert feed.link == "https://news.example.com/"
    assert len(feed.entries) == 2
    post = parse_feed_or_post(POST, origin="p.md", suffix=".md", default_tz=SHANGHAI)
    assert isinstance(post, RawArticle)
    assert post.title == "上海发布新规"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("post.md", True),
        ("post.markdown", True),
        ("page.HTML", True),
        ("page.htm", True),
        ("feed.xml", True),
        ("feed.rss", True),
        ("feed.Atom", True),
        ("sub/dir/post.md", True),
        (".hidden.md", False),
        (".feed.xml", False),
        ("notes.txt", False),
        ("image.png", False),
        ("README", False),
        ("post.md.swp", False),
    ],
)
def test_is_article_file(name: str, expected: bool) -> None:
    assert is_article_file(Path(name)) is expected
