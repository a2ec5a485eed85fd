"""parse_feed, looks_like_feed and decode_document against the real corpus feeds and crafted bytes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.sources.charset import decode_document
from bot.sources.feeds import looks_like_feed, parse_feed
from bot.sources.types import FeedParseError, ParsedFeed

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOT_FEEDS = {
    "rssant__http-blog-hexun-com-group-getrssresouce-aspx-classid-74.xml",
    "rssant__http-yx-bsh-me-feed.xml",
}
# file -> (feed title, number of entries)
EXPECTED = {
    "rss-parser__encoding-gb2312.orig-77ffd78.xml": ("新闻国内", 20),
    "rss-parser__encoding-gb2312.xml": ("互联网", 1),
    "rss-parser__encoding.rss": ("Jornal de Notícias - Últimas Notícias", 40),
    "rss-parser__guardian.rss": ("The Guardian", 55),
    "rss-parser__heise.atom": ("heise developer neueste Meldungen", 15),
    "rssant__bilibili_iframe.xml": ("极客之选 的 bilibili 频道 极客博物馆（怀旧产品）", 10),
    "rssant__chardet-gb2312-no-declaration.xml": (None, 1),
    "rssant__dapenti_blog_iframe.xml": ("喷嚏网----阅读、发现和分享：8小时外的健康生活！ 之 [铂程斋]", 30),
    "rssant__https-laod-cn-feed.xml": ("老D博客", 10),
    "rssant__https-www-oschina-net-news-rss-show-industry.xml": ("OSCHINA 社区最新新闻", 50),
    "rssant__v2ex-no-id-no-summary-no-url.xml": ("V2EX - guyskk", 3),
    "rssant__www-ruangyifeng-com-blog-atom.xml": ("阮一峰的网络日志", 3),
}


def parse_file(feeds_dir: Path, name: str, **kwargs: object) -> ParsedFeed:
    return parse_feed((feeds_dir / name).read_bytes(), origin=name, default_tz=SHANGHAI, **kwargs)  # type: ignore[arg-type]


def test_corpus_is_complete(feeds_dir: Path) -> None:
    assert {p.name for p in feeds_dir.iterdir()} == set(EXPECTED) | NOT_FEEDS


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_real_feed_gives_entries(feeds_dir: Path, name: str) -> None:
    title, count = EXPECTED[name]
    data = (feeds_dir / name).read_bytes()
    assert looks_like_feed(data)
    feed = parse_file(feeds_dir, name)
    if title is not None:
        assert feed.title == title
    assert len(feed.entries) == count
    for entry in feed.entries:
        assert entry.title.strip()
        assert entry.origin == name
        assert entry.body_format in ("html", "text")
        assert "\ufffd" not in entry.title, entry.title
        assert entry.published is None or entry.published.tzinfo is UTC
        assert entry.link is None or entry.link.startswith(("http://", "https://"))


@pytest.mark.parametrize("name", sorted(NOT_FEEDS))
def test_html_pages_are_not_feeds(feeds_dir: Path, name: str) -> None:
    data = (feeds_dir / name).read_bytes()
    assert not looks_like_feed(data)
    with pytest.raises(FeedParseError) as caught:
        parse_feed(data, origin=name, default_tz=SHANGHAI)
    assert str(caught.value) == f"{name}: an HTML page, not a feed"


def test_gb2312_without_declaration_decodes(feeds_dir: Path) -> None:
    feed = parse_file(feeds_dir, "rssant__chardet-gb2312-no-declaration.xml")
    assert feed.entries[0].title == "信息交换用汉字编码字符集·基本集，通常简称GB"
    # No feed title or link: the origin names it.
    assert feed.title == ""


def test_gb2312_declared_feed(feeds_dir: Path) -> None:
    feed = parse_file(feeds_dir, "rss-parser__encoding-gb2312.xml")
    entry = feed.entries[0]
    assert entry.title == "拟298亿元重组盛大游戏后 世纪华通发20亿回购预案"
    assert entry.link == "http://tech.qq.com/a/20180919/009008.htm"
    assert entry.is_excerpt  # RSS <description> only


def test_gb2312_zoneless_dates_read_in_default_tz(feeds_dir: Path) -> None:
    # <pubDate>2018-09-18 14:38:10</pubDate>: Beijing time, no zone written.
    feed = parse_file(feeds_dir, "rss-parser__encoding-gb2312.orig-77ffd78.xml")
    assert feed.entries[0].title == "习近平为何如此强调崇尚英雄？"
    assert feed.entries[0].published == datetime(2018, 9, 18, 6, 38, 10, tzinfo=UTC)


def test_guardian_english(feeds_dir: Path) -> None:
    feed = parse_file(feeds_dir, "rss-parser__guardian.rss")
    assert feed.link == "https://www.theguardian.com/us"
    first = feed.entries[0]
    assert first.title.startswith("Trump State of the Union address promised unity")
    assert first.link == first.guid
    assert first.link is not None
    assert first.link.startswith("https://www.theguardian.com/us-news/2018/jan/31/")
    assert first.author == "David Smith in Washington"
    assert first.published == datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)
    assert "Donald Trump" in first.categories
    # The widest of the untyped media:content pictures.
    assert first.image_url is not None
    assert "w=460" in first.image_url
    assert "new American moment" in first.body


def test_heise_atom(feeds_dir: Path) -> None:
    feed = parse_file(feeds_dir, "rss-parser__heise.atom")
    assert feed.link == "http://www.heise.de/developer/"
    first = feed.entries[0]
    assert first.title == "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei"
    assert first.guid == "http://heise.de/-3088438"
    assert first.published == datetime(2016, 2, 1, 16, 22, tzinfo=UTC)
    assert not first.is_excerpt  # Atom <content>
    assert any("für" in e.body or "ü" in e.title for e in feed.entries)


def test_iso_8859_1_accents(feeds_dir: Path) -> None:
    feed = parse_file(feeds_dir, "rss-parser__encoding.rss")
    assert feed.title == "Jornal de Notícias - Últimas Notícias"
    assert feed.entries[0].title == "Mãe de utente é a nova presidente da Raríssimas"
    assert feed.entries[0].categories == ("Nacional",)


def test_control_characters_do_not_break_parsing(feeds_dir: Path) -> None:
    assert b"\x08" in (feeds_dir / "rssant__https-laod-cn-feed.xml").read_bytes()
    feed = parse_file(feeds_dir, "rssant__https-laod-cn-feed.xml")
    assert feed.entries[0].title == "思念与希望同在"
    assert feed.entries[0].link == "https://laod.cn/journal/4-4.html"
    assert all("\x08" not in e.body for e in feed.entries)


def test_entries_without_id_summary_or_url(feeds_dir: Path) -> None:
    feed = parse_file(feeds_dir, "rssant__v2ex-no-id-no-summary-no-url.xml")
    untitled, no_content, relative_id = feed.entries
    assert untitled.title == "test-content"  # no title: its text stands in
    assert no_content.title.startswith("[Python] 最近看异步 IO")
    assert no_content.body == ""
    assert no_content.link is None
    # feedparser resolves the relative <id> against the entry's xml:base.
    assert relative_id.guid == "https://www.v2ex.com/t/378265"
    assert all(e.author == "guyskk" for e in feed.entries)


def test_atom_with_content(feeds_dir: Path) -> None:
    feed = parse_file(feeds_dir, "rssant__www-ruangyifeng-com-blog-atom.xml")
    first = feed.entries[0]
    assert first.title == "科技爱好者周刊：第 102 期"
    assert first.link == "http://www.ruanyifeng.com/blog/2020/04/weekly-issue-102.html"
    assert first.categories == ("Weekly",)
    assert not first.is_excerpt
    assert len(first.body) > 5000


# --- crafted documents ----------------------------------------------------------------------------


def rss(
    items: str,
    *,
    declaration: str = '<?xml version="1.0" encoding="utf-8"?>',
    link: str = "https://example.com/",
    title: str = "示例",
) -> str:
    channel = f"<title>{title}</title><link>{link}</link>{items}"
    return f'{declaration}\n<rss version="2.0"><channel>{channel}</channel></rss>'


def test_relative_links_resolved_against_feed_link() -> None:
    data = rss(
        "<item><title>a</title><link>/posts/1</link></item>", link="https://example.com/blog/"
    ).encode()
    feed = parse_feed(data, origin="https://feeds.example.com/rss", default_tz=UTC)
    assert feed.entries[0].link == "https://example.com/posts/1"


def test_entry_without_title_and_content_is_skipped() -> None:
    data = rss("<item><link>https://e.com/1</link></item><item><title>kept</title></item>").encode()
    feed = parse_feed(data, origin="x", default_tz=UTC)
    assert [e.title for e in feed.entries] == ["kept"]


def test_enclosure_image_and_tags() -> None:
    items = (
        "<item><title>t</title><category>a</category><category>b</category><category>a</category>"
        '<enclosure url="https://e.com/v.mp4" type="video/mp4" length="1"/>'
        '<enclosure url="https://e.com/p.jpg" type="image/jpeg" length="1"/></item>'
    )
    entry = parse_feed(rss(items).encode(), origin="x", default_tz=UTC).entries[0]
    assert entry.image_url == "https://e.com/p.jpg"
    assert entry.categories == ("a", "b")


def test_long_untitled_entry_title_is_cut() -> None:
    text = "这是一段很长的文字" * 20
    entry = parse_feed(
        rss(f"<item><description>{text}</description></item>").encode(), origin="x", default_tz=UTC
    ).entries[0]
    assert len(entry.title) <= 60
    assert entry.title.endswith("…")
    assert entry.is_excerpt


def test_gbk_bytes_declared_utf8() -> None:
    data = rss("<item><title>镕基与喆的新闻</title></item>").encode("gb18030")
    feed = parse_feed(data, origin="x", default_tz=UTC)
    assert feed.title == "示例"
    assert feed.entries[0].title == "镕基与喆的新闻"


def test_gb2312_declared_with_gb18030_only_characters() -> None:
    text = rss(
        "<item><title>朱镕基和王喆在堃城</title></item>",
        declaration='<?xml version="1.0" encoding="gb2312"?>',
    )
    feed = parse_feed(text.encode("gb18030"), origin="x", default_tz=UTC)
    assert feed.entries[0].title == "朱镕基和王喆在堃城"


def test_http_charset_header_beats_missing_declaration() -> None:
    data = rss("<item><title>Olá ação</title></item>", declaration="", title="Notícias").encode("cp1252")
    feed = parse_feed(data, origin="x", default_tz=UTC, content_type="text/xml; charset=ISO-8859-1")
    assert feed.title == "Notícias"
    assert feed.entries[0].title == "Olá ação"


def test_utf8_declared_gb2312_is_utf8() -> None:
    text = rss("<item><title>中文标题</title></item>", declaration='<?xml version="1.0" encoding="gb2312"?>')
    feed = parse_feed(text.encode("utf-8"), origin="x", default_tz=UTC)
    assert feed.entries[0].title == "中文标题"


def test_rdf_feed() -> None:
    data = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://e.com/"><title>RDF</title><link>https://e.com/</link></channel>
<item rdf:about="https://e.com/1"><title>one</title><link>https://e.com/1</link></item>
</rdf:RDF>"""
    assert looks_like_feed(data)
    feed = parse_feed(data, origin="x", default_tz=UTC)
    assert feed.title == "RDF"
    assert feed.entries[0].link == "https://e.com/1"


def test_atom_text_content_is_text() -> None:
    data = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<entry><title>plain</title><id>urn:1</id><content type="text">1 &lt; 2 &amp; 3</content></entry>
<entry><title>markup</title><id>urn:2</id><content type="html">&lt;p&gt;hi&lt;/p&gt;</content></entry>
</feed>"""
    plain, markup = parse_feed(data, origin="x", default_tz=UTC).entries
    assert (plain.body, plain.body_format) == ("1 < 2 & 3", "text")
    assert (markup.body, markup.body_format) == ("<p>hi</p>", "html")


ATOM_TITLES = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">Example &lt;b&gt;Atom&lt;/b&gt;</title>
<entry><id>urn:1</id><title type="html">Q&amp;amp;A session</title></entry>
<entry><id>urn:2</id><title type="html">&lt;strong&gt;突发&lt;/strong&gt;：地震</title></entry>
<entry><id>urn:3</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><em>Rich</em>
  &amp;   <b>bold</b></div></title></entry>
<entry><id>urn:4</id><title type="text">Why &lt;blink&gt; &amp;amp; marquee died</title></entry>
<entry><id>urn:5</id><title type="html">Escaped twice: &amp;amp;lt;tag&amp;amp;gt; stays text</title></entry>
<entry><id>urn:6</id><title type="html">&lt;p&gt;Two
   lines&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title></entry>
</feed>"""


def test_markup_titles_become_plain_text() -> None:
    feed = parse_feed(ATOM_TITLES.encode(), origin="x", default_tz=UTC)
    assert feed.title == "Example Atom"
    assert [e.title for e in feed.entries] == [
        "Q&A session",
        "突发：地震",
        "Rich & bold",
        "Why <blink> &amp; marquee died",  # type="text": what it says, literally
        "Escaped twice: &lt;tag&gt; stays text",  # entities decoded once, not until none are left
        "Two lines",
    ]


def test_rss_titles_with_entities_and_tags_are_plain_text() -> None:
    data = rss(
        "<item><title>AT&amp;amp;T &lt;b&gt;earnings&lt;/b&gt;</title><guid>1</guid></item>"
        "<item><title><![CDATA[<i>CDATA</i>   &amp; more]]></title><guid>2</guid></item>"
        "<item><title>1 &lt; 2</title><guid>3</guid></item>"
    )
    feed = parse_feed(data.encode(), origin="x", default_tz=UTC)
    assert [e.title for e in feed.entries] == ["AT&T earnings", "CDATA & more", "1 < 2"]


def dated_items(count: int, *, undated: Sequence[int] = ()) -> bytes:
    """An RSS feed of `count` items, item i dated i minutes after 2024-01-01 (except those in `undated`),
    listed in a shuffled order so that only the dates say which are newest."""
    order = sorted(range(count), key=lambda i: (i * 7919) % count)
    items = "".join(
        f"<item><title>Item {i}</title><guid>g{i}</guid>"
        + ("" if i in undated else f"<pubDate>Mon, 01 Jan 2024 {i // 60:02d}:{i % 60:02d}:00 GMT</pubDate>")
        + "</item>"
        for i in order
    )
    return rss(items).encode()


def test_max_items_keeps_the_newest_in_document_order() -> None:
    data = dated_items(50)
    whole = parse_feed(data, origin="x", default_tz=UTC)
    kept = parse_feed(data, origin="x", default_tz=UTC, max_items=5)
    assert len(whole.entries) == 50
    assert sorted(e.title for e in kept.entries) == [f"Item {i}" for i in range(45, 50)]
    assert [e.title for e in kept.entries] == [e.title for e in whole.entries if e in kept.entries]


def test_max_items_counts_undated_items_as_oldest() -> None:
    kept = parse_feed(dated_items(10, undated=[9]), origin="x", default_tz=UTC, max_items=3)
    assert sorted(e.title for e in kept.entries) == ["Item 6", "Item 7", "Item 8"]
    # none dated: the document's order decides, feeds listing the newest first
    data = rss("".join(f"<item><title>n{i}</title><guid>{i}</guid></item>" for i in range(6))).encode()
    undated = parse_feed(data, origin="x", default_tz=UTC, max_items=2)
    assert [e.title for e in undated.entries] == ["n0", "n1"]


def test_feed_with_title_and_no_entries_is_valid() -> None:
    feed = parse_feed(rss("").encode(), origin="x", default_tz=UTC)
    assert feed.title == "示例"
    assert feed.entries == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty document"),
        (b"  \n", "empty document"),
        (b"hello, this is text", "not XML"),
        (b'{"items": []}', "not XML"),
        (b"<html><body>Moved</body></html>", "an HTML page, not a feed"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", "no feed title and no entries"),
        (b"<rss><channel><item>", "not a feed ("),
    ],
)
def test_rejected_documents(data: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        parse_feed(data, origin="src", default_tz=UTC)
    assert caught.value.reason.startswith(reason)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'<?xml version="1.0"?>\n<rss version="2.0">', True),
        (b"\xef\xbb\xbf<?xml version='1.0'?><!-- c --><?xml-stylesheet href='a'?>\n<feed xmlns='x'>", True),
        (b"<rdf:RDF xmlns:rdf='x'>", True),
        ("<?xml version='1.0'?><rss>".encode("utf-16"), True),
        (b"<!DOCTYPE html><html>", False),
        (b"\n---\ntitle: x\n---\n", False),
        (b"<rssfeed>", False),
        (b"", False),
    ],
)
def test_looks_like_feed(data: bytes, expected: bool) -> None:
    assert looks_like_feed(data) is expected


UTF16_LABELLED = '<?xml version="1.0" encoding="utf-16"?><a>中文</a>'  # 52 bytes in UTF-8: even


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        ("中文".encode("gbk"), "gb2312", "中文"),
        ("镕".encode("gb18030"), "gb2312", "镕"),
        ("中文".encode(), "gbk", "中文"),
        ("Olá".encode("cp1252"), "iso-8859-1", "Olá"),
        ("€".encode("cp1252"), "latin-1", "€"),
        ("\ufeffabc".encode(), None, "abc"),
        ("abc".encode("utf-16"), None, "abc"),
        ("中文".encode("gbk"), "x-gbk", "中文"),
        ("中文".encode("gbk"), "no-such-charset", None),
        # codecs, but not of text, on bytes nobody can guess: once a LookupError that ended the poll
        (bytes(range(256)) * 4, "hex", None),
        (bytes(range(256)) * 4, "base64", None),
        # a UTF-8 document labelled UTF-16 (as .NET writes it): even-length bytes decode as UTF-16 garbage
        (UTF16_LABELLED.encode(), None, UTF16_LABELLED),
        ("<a>中文!</a>".encode(), "utf-16", "<a>中文!</a>"),
        ("<a>中文</a>".encode("utf-16-le"), "utf-16", "<a>中文</a>"),  # really UTF-16, no BOM
    ],
)
def test_decode_document(data: bytes, declared: str | None, expected: str | None) -> None:
    text = decode_document(data, declared=declared)
    if expected is not None:
        assert text == expected
    else:
        assert isinstance(text, str)
