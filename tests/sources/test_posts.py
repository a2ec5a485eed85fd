"""parse_post against the 54 real archive posts and hand-written edge cases."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.sources.posts import MAX_FRONT_MATTER_BYTES, parse_post
from bot.sources.types import PostParseError

SHANGHAI = ZoneInfo("Asia/Shanghai")
KNOWN_TOP_CATEGORIES = {"新媒体", "金融", "二次元"}


def post(front_matter: str, body: str = "<p>正文</p>") -> bytes:
    return f"\n---\n{front_matter.strip()}\n---\n\n{body}\n".encode()


def parse(data: bytes, origin: str = "test.md"):
    return parse_post(data, origin=origin, default_tz=SHANGHAI)


# --- the real corpus ------------------------------------------------------------------------------


def test_every_corpus_article_parses(articles_dir: Path) -> None:
    files = sorted(articles_dir.glob("*.md"))
    assert len(files) == 54
    for file in files:
        article = parse_post(file.read_bytes(), origin=file.name, default_tz=SHANGHAI)
        assert article.title.strip(), file.name
        assert article.origin == file.name
        assert len(article.categories) == 3, (file.name, article.categories)
        assert article.categories[0] in KNOWN_TOP_CATEGORIES, file.name
        assert article.published is not None, file.name
        assert article.published.tzinfo is UTC, file.name
        assert article.body_format == "html", file.name
        assert article.author, file.name


def test_first_post_fields(articles_dir: Path) -> None:
    article = parse((articles_dir / "0001.md").read_bytes(), "0001.md")
    assert article.title == "1056秒！中国人造太阳运行时间突破千秒"
    assert article.categories == ("新媒体", "观察者网", "首页")
    assert article.author == "观察者网"
    assert article.published == datetime(2021, 12, 31, 13, 47, 58, tzinfo=UTC)
    assert article.image_url == "https://i.guancha.cn/news/mainland/2021/12/31/20211231134122209.jpg"
    assert article.body.startswith("<div>")
    assert "EAST" in article.body
    assert article.link is None
    assert article.guid is None
    assert not article.is_excerpt


def test_old_template_four_space_categories_no_headimg(articles_dir: Path) -> None:
    article = parse((articles_dir / "0010.md").read_bytes(), "0010.md")
    assert article.title == "第1话 - 4点44分的仪式"
    assert article.categories == ("二次元", "AcFun", "番剧")
    # No headimg: the thumbnail is the picture.
    assert article.image_url == "https://tx-free-imgs.acfun.cn/content/2018_09_30/1538318935.png"
    assert article.published == datetime(2018, 10, 1, 11, 50, 50, tzinfo=UTC)


@pytest.mark.parametrize("name", ["0013.md", "0052.md"])
def test_picsum_placeholder_is_no_image(articles_dir: Path, name: str) -> None:
    assert "picsum.photos" in (articles_dir / name).read_text()
    assert parse((articles_dir / name).read_bytes(), name).image_url is None


def test_relative_404_placeholder_is_no_image_and_flash_item_is_valid(articles_dir: Path) -> None:
    article = parse((articles_dir / "0031.md").read_bytes(), "0031.md")
    assert article.image_url is None
    assert "10年期美债收益率" in article.body


def test_video_only_post_is_valid(articles_dir: Path) -> None:
    article = parse((articles_dir / "0013.md").read_bytes(), "0013.md")
    assert article.title == "100个瞬间，定格2021最有爱的模样！"
    assert "<iframe" in article.body


def test_mangled_title_left_as_is(articles_dir: Path) -> None:
    article = parse((articles_dir / "0035.md").read_bytes(), "0035.md")
    assert article.title.startswith("微软 Win11_Win10")


def test_braces_unescaped_in_front_matter_not_in_body(articles_dir: Path) -> None:
    data = post(
        "title: 'JSON &#123;key&#125; &amp; more'\ncategories: '&#123;tech&#125;'",
        body="<p>code &#123;x&#125;</p>",
    )
    article = parse(data)
    assert article.title == "JSON {key} & more"
    assert article.categories == ("{tech}",)
    assert article.body == "<p>code &#123;x&#125;</p>"


# --- front matter fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("categories", "tags", "expected"),
    [
        ("categories: 科技", "", ("科技",)),
        ("categories: 科技, 互联网，手机", "", ("科技", "互联网", "手机")),
        ("categories: [科技, 互联网]", "tags: 互联网", ("科技", "互联网")),
        ("categories:\n    - 二次元\n    - AcFun", "tags:\n - 番剧\n - AcFun", ("二次元", "AcFun", "番剧")),
        ("categories: []", "tags: [2021, '  a  ', null, '']", ("2021", "a")),
        ("", "tags: 'x,y'", ("x", "y")),
    ],
)
def test_categories_and_tags(categories: str, tags: str, expected: tuple[str, ...]) -> None:
    article = parse(post(f"title: t\n{categories}\n{tags}"))
    assert article.categories == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'Mon, 12 Jul 2021 07:25:10 GMT'", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("Mon, 12 Jul 2021 15:25:10 +0800", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("Mon, 12 Jul 2021 07:25:10 -0000", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("'2021-07-12T07:25:10Z'", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("'2021-07-12T15:25:10+08:00'", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        # Unquoted: YAML itself makes these datetime objects (aware, or naive -> Shanghai).
        ("2021-07-12T15:25:10+08:00", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("2021-07-12 15:25:10", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("'2021-07-12 15:25:10'", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("'2021-07-12 07:25:10 +0000'", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
        ("2021-07-12", datetime(2021, 7, 11, 16, 0, tzinfo=UTC)),
        ("'2021/07/12 15:25'", datetime(2021, 7, 12, 7, 25, tzinfo=UTC)),
        ("1626074710", datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)),
    ],
)
def test_date_variants(value: str, expected: datetime) -> None:
    published = parse(post(f"title: t\ndate: {value}")).published
    assert published == expected
    assert published is not None
    assert published.utcoffset() is not None


@pytest.mark.parametrize(
    "title", ["Yes", "off", "0x10", "12:30:00", "1e3", "010", "1_000", "2024", "-.inf", "9" * 5000]
)
def test_a_title_yaml_would_read_as_a_number_or_boolean_is_kept_as_written(title: str) -> None:
    """Unquoted, these once became "True", "False", "16", "45000", "1000.0", "8", "1000" (5,000 digits: a
    failed post); the title, guid and tags are text as the author wrote it. The date still reads numbers."""
    article = parse(post(f"title: {title}\ndate: 1626074710\nid: 0x2A\ntags: [2024, yes]"))
    assert article.title == title
    assert (article.guid, article.categories) == ("0x2A", ("2024", "yes"))
    assert article.published == datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)
    # a number no int holds is text too, in a key nobody reads (it once failed the post) or as the date
    assert parse(post("title: t\nx: " + "9" * 5000)).title == "t"
    assert parse(post("title: t\ndate: " + "9" * 5000)).published is None


def test_naive_date_is_read_in_default_zone() -> None:
    data = post("title: t\ndate: '2022-03-18 17:19:22'")
    in_shanghai = parse_post(data, origin="x", default_tz=SHANGHAI).published
    in_utc = parse_post(data, origin="x", default_tz=UTC).published
    assert in_shanghai == datetime(2022, 3, 18, 9, 19, 22, tzinfo=UTC)
    assert in_utc == datetime(2022, 3, 18, 17, 19, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "'yesterday'", "'not a date'", "''", "'3'", "[2021]",
        # no UTC time exists, or too near the calendar's ends for date arithmetic: placeholders, not news
        "0001-01-01", "'0001-01-01T00:00:00+01:00'", "'9999-12-31T23:59:59-01:00'",
        "'Sat, 31 Dec 9999 23:59:59 -1200'", "'1066-10-14'",
    ],
)
def test_unparseable_date_is_none_not_error(value: str) -> None:
    article = parse(post(f"title: t\ndate: {value}"))
    assert article.published is None


def test_links_guid_author_and_image_keys() -> None:
    article = parse(
        post(
            "title: t\nurl: 'https://example.com/a'\nid: 42\nauthor: {name: Ann}\n"
            "headimg: '/images/404.gif'\ncover: '//cdn.example.com/c.jpg'"
        )
    )
    assert article.link == "https://example.com/a"
    assert article.guid == "42"
    assert article.author == "Ann"
    assert article.image_url == "https://cdn.example.com/c.jpg"


def test_non_http_link_and_relative_image_dropped() -> None:
    article = parse(post("title: t\nlink: 'javascript:alert(1)'\nimage: 'img/a.png'"))
    assert article.link is None
    assert article.image_url is None


def test_markdown_body_and_autolink() -> None:
    article = parse(post("title: t", body="# Head\n\nSome *text* <https://example.com> and 1 < 2."))
    assert article.body_format == "markdown"
    assert article.body.startswith("# Head")


def test_title_only_post_is_valid() -> None:
    article = parse(post("title: 只有标题", body=""))
    assert article.title == "只有标题"
    assert article.body == ""


def test_missing_title_falls_back_to_body_text() -> None:
    article = parse(post("author: x", body="<div><p>第一段文字</p><p>second</p></div>"))
    assert article.title == "第一段文字 second"


def test_bom_and_leading_blank_lines_and_crlf() -> None:
    data = "\ufeff\r\n\r\n---\r\ntitle: 'BOM'\r\ncategories: a\r\n---\r\n<p>x</p>\r\n".encode()
    article = parse(data)
    assert article.title == "BOM"
    assert article.categories == ("a",)
    assert article.body == "<p>x</p>"


def test_gb18030_post_is_decoded() -> None:
    data = post("title: 中文标题\ncategories: 新闻", body="<p>正文内容</p>").decode().encode("gb18030")
    article = parse(data)
    assert article.title == "中文标题"
    assert article.categories == ("新闻",)


# --- rejected files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\n \n\t", "empty file"),
        (bytes(range(256)) * 4, "not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not UTF-8 text"),
        (b"---\ntitle: a\x00b\n---\n", "not UTF-8 text (binary data)"),
        (b"# Just markdown\n\nNo front matter here.\n", "no front matter"),
        (b"\n---\ntitle: never closed\n\n<p>body</p>\n", "front matter is not closed"),
        (b"\n---\n- a\n- b\n---\nbody\n", "front matter is a list, not a mapping"),
        (b"\n---\njust a string\n---\nbody\n", "front matter is a str, not a mapping"),
        (b"\n---\ncomments: false\n---\n\n", "no title and no body"),
        (b"\n---\n---\n", "no title and no body"),
        # YAML, but values its constructors refuse: a ValueError once ended the whole import
        (b"\n---\ntitle: t\ndate: 2021-13-01\n---\nbody\n", "front matter: a value YAML cannot read (month"),
        (b"\n---\ntitle: t\ndate: 2021-02-30 25:61:00\n---\nbody\n", "front matter: a value YAML cannot"),
    ],
)
def test_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(PostParseError) as caught:
        parse(data, "bad.md")
    assert caught.value.where == "bad.md"
    assert caught.value.reason.startswith(reason)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("bad.md: ")


def test_broken_yaml_names_the_line() -> None:
    data = b"\n---\ntitle: 'unterminated\ncategories:\n - a\n---\nbody\n"
    with pytest.raises(PostParseError) as caught:
        parse(data, "broken.md")
    message = str(caught.value)
    assert message.startswith("broken.md: broken YAML front matter at line ")
    assert "\n" not in message


def test_broken_yaml_bad_indentation() -> None:
    data = b"\n---\ntitle: a\n  categories: [b\n---\nbody\n"
    with pytest.raises(PostParseError, match=r"broken YAML front matter at line \d+: "):
        parse(data)


# --- hostile front matter (issue #11) ---------------------------------------------------------------


def parse_in_time(data: bytes, origin: str = "hostile.md", seconds: float = 30.0) -> object:
    """parse_post in a worker thread: a regression hangs or eats memory there, and fails here instead."""
    outcome: list[object] = []

    def work() -> None:
        try:
            outcome.append(parse(data, origin))
        except BaseException as exc:  # handed back to the test thread, which judges it
            outcome.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"parse_post still running after {seconds} s"
    return outcome[0]


def alias_bomb(levels: int) -> str:
    """The billion-laughs shape: each level lists the previous one nine times; `tags` names the last."""
    names = "abcdefghijklmnop"[:levels]
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "title: bomb\n" + "\n".join(lines) + f"\ntags: [*{names[-1]}]"


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        # 9 levels (9**9 strings once expanded) took 29 s and 839 MB; 10 levels never finished.
        # Line 5 of the file is `b:`, the first alias.
        pytest.param(alias_bomb(9), "front matter: aliases are not allowed (line 5)", id="alias-bomb-9"),
        pytest.param(alias_bomb(10), "front matter: aliases are not allowed (line 5)", id="alias-bomb-10"),
        # a list that contains itself, then a RecursionError in whoever walks it
        pytest.param("title: t\ntags: &x [*x]", "front matter: aliases are not allowed (line 4)", id="self"),
        pytest.param(
            "title: t\ntags: " + "[" * 5000 + "]" * 5000,
            "front matter: nested more than 20 levels deep (line 4)",
            id="5000-nested-flow",
        ),
        pytest.param(
            "title: t\ntags: " + "[" * 5000,
            "front matter: nested more than 20 levels deep (line 4)",
            id="5000-unclosed",
        ),
        pytest.param(
            "title: t\ntags:\n" + "".join(" " * i + "- \n" for i in range(1, 60)) + " " * 60 + "- x",
            "front matter: nested more than 20 levels deep",
            id="deep-block-lists",
        ),
        pytest.param(
            "title: t\ndescription: " + "a" * 70_000,
            "front matter: 70,023 bytes, over the 65,536-byte limit",
            id="oversized",
        ),
    ],
)
def test_hostile_front_matter_is_one_named_failure(front_matter: str, reason: str) -> None:
    data = post(front_matter)
    if front_matter.startswith("title: bomb"):
        assert 340 <= len(data) <= 420  # the sizes reported in the issue: 365 and 402 bytes
    caught = parse_in_time(data)
    assert isinstance(caught, PostParseError), caught
    assert caught.where == "hostile.md"
    assert caught.reason.startswith(reason)
    assert str(caught) == f"hostile.md: {caught.reason}"
    assert "\n" not in str(caught)


def test_anchors_without_aliases_and_moderate_nesting_still_parse() -> None:
    nested = "[" * 15 + "deep" + "]" * 15
    article = parse(post(f"title: &t 正常的标题\ncategories: &c [新媒体, 观察者网]\ntags: {nested}"))
    assert article.title == "正常的标题"
    assert article.categories == ("新媒体", "观察者网", "deep")


def test_front_matter_at_the_size_limit_parses() -> None:
    head = "title: t\ndescription: "
    # the front matter counted is everything between the `---` lines, its last newline included
    front_matter = head + "a" * (MAX_FRONT_MATTER_BYTES - len(head) - 1)
    assert len((front_matter + "\n").encode()) == MAX_FRONT_MATTER_BYTES
    assert parse(post(front_matter)).title == "t"
