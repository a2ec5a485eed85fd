"""bot.render: escaping, hashtags, Telegram's limits counted in UTF-16 units, and chunks that are valid
HTML."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.render import (
    format_local_time,
    hashtag,
    render_caption,
    render_digest,
    render_item,
    render_items,
)
from bot.telegram_html import escape, html_to_plain, split_text, utf16_len
from readmodels import AlsoCarried, ArticleView, DigestGroup

SHANGHAI = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2022, 9, 3, 4, 44, tzinfo=UTC)  # 12:44 in Shanghai
ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"}
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def article(**changes: object) -> ArticleView:
    view = ArticleView(
        id=1,
        title="Fusion record",
        link="https://example.com/a/1",
        publisher="Xinhua",
        published_at=WHEN,
        listed_at=WHEN + timedelta(hours=1),
        summary="The reactor ran for 1056 seconds.",
        summary_method="extractive",
        tags=["energy", "China"],
        image_url=None,
        chars=1200,
    )
    return replace(view, **changes)  # type: ignore[arg-type]


class _WellFormed(HTMLParser):
    """Records every way a chunk is not valid Telegram HTML on its own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> not allowed")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if not href.startswith(("http://", "https://")):
                self.problems.append(f"link to {href!r}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def assert_valid_chunk(chunk: str, limit: int = 4096) -> None:
    assert chunk.strip(), "an empty message"
    assert utf16_len(chunk) <= limit, f"{utf16_len(chunk)} UTF-16 units > {limit}"
    checker = _WellFormed()
    checker.feed(chunk)
    checker.close()
    assert checker.problems == []
    assert checker.stack == [], f"left open: {checker.stack}"
    # every '&' starts one of the entities escape() writes: nothing dynamic went out unescaped or cut
    assert re.findall(r"&(?!(?:amp|lt|gt|quot|#x27);)", chunk) == []


# --- escaping and links -----------------------------------------------------------------------------------


def test_escape_covers_markup_and_quotes() -> None:
    assert escape("<b>\"Tom\" & 'Jerry'</b>") == "&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt;"


def test_item_layout() -> None:
    assert render_item(article(), tz=SHANGHAI, index=3) == (
        '3. <b><a href="https://example.com/a/1">Fusion record</a></b>\n'
        "<i>Xinhua · 2022-09-03 12:44</i>\n"
        "The reactor ran for 1056 seconds.\n"
        "#energy #China"
    )


def test_hostile_title_is_escaped() -> None:
    html_text = render_item(article(title="<script>alert(1)</script>", summary="x & y"), tz=SHANGHAI)
    assert "<script>" not in html_text
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;</a></b>" in html_text
    assert "\nx &amp; y\n" in html_text
    assert_valid_chunk(html_text)


def test_entity_in_title_is_escaped_again() -> None:
    html_text = render_item(article(title="AT&amp;T"), tz=SHANGHAI)
    assert ">AT&amp;amp;T</a>" in html_text
    assert html_to_plain(html_text).startswith("AT&amp;T (https://example.com/a/1)")


def test_quotes_and_ampersands_in_link_are_escaped() -> None:
    html_text = render_item(article(link='https://e.com/?a=1&b="x"'), tz=SHANGHAI)
    assert '<a href="https://e.com/?a=1&amp;b=&quot;x&quot;">' in html_text
    assert_valid_chunk(html_text)
    assert 'Fusion record (https://e.com/?a=1&b="x")' in html_to_plain(html_text)


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        " JavaScript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "/relative/path",
        "//example.com/no-scheme",
        "ftp://example.com/file",
        "https://exa mple.com/",
        "http://",
        "",
        None,
    ],
)
def test_only_http_links_are_linked(link: str | None) -> None:
    html_text = render_item(article(link=link), tz=SHANGHAI)
    assert html_text.startswith("<b>Fusion record</b>\n")
    assert "<a" not in html_text
    assert_valid_chunk(html_text)


def test_very_long_link_is_not_linked() -> None:
    html_text = render_item(article(link="https://e.com/" + "a" * 5000), tz=SHANGHAI)
    assert html_text.startswith("<b>Fusion record</b>")


# --- hashtags and time ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("Hong Kong", "#Hong_Kong"),
        ("C++", "#C"),
        ("2022", None),
        ("人工智能", "#人工智能"),
        ("#already", "#already"),
        ("a-b.c", "#a_b_c"),
        ("  spaced   out  ", "#spaced_out"),
        ("新冠·疫情", "#新冠_疫情"),
        ("AC/DC", "#AC_DC"),
        ("2022年", "#2022年"),
        ("___", None),
        ("+++", None),
        ("", None),
        ("1_000", None),
        ("café", "#café"),
        ("cafe\u0301", "#café"),  # decomposed accent, normalized
        ("हिन्दी", "#हिन्दी"),  # vowel signs stay with their letters
        ("<b>x</b>", "#b_x_b"),
    ],
)
def test_hashtag(tag: str, expected: str | None) -> None:
    assert hashtag(tag) == expected


def test_hashtag_is_cut_to_64_characters() -> None:
    made = hashtag("x" * 100)
    assert made == "#" + "x" * 64
    assert hashtag("a" * 63 + "_" + "b" * 10) == "#" + "a" * 63


def test_item_tags_are_deduplicated_and_invalid_ones_dropped() -> None:
    html_text = render_item(article(tags=["AI", "ai", "2022", "C++", "#AI"]), tz=SHANGHAI)
    assert html_text.endswith("\n#AI #C")


def test_no_valid_tag_means_no_tag_line() -> None:
    html_text = render_item(article(tags=["2022", "+++"]), tz=SHANGHAI)
    assert html_text.endswith("The reactor ran for 1056 seconds.")


def test_format_local_time() -> None:
    assert format_local_time(WHEN, SHANGHAI) == "2022-09-03 12:44"
    assert format_local_time(WHEN, UTC) == "2022-09-03 04:44"
    assert format_local_time(datetime(2022, 9, 3, 4, 44), SHANGHAI) == "2022-09-03 12:44"  # naive means UTC  # noqa: DTZ001


def test_listed_at_when_not_published() -> None:
    html_text = render_item(article(published_at=None), tz=SHANGHAI)
    assert "<i>Xinhua · 2022-09-03 13:44</i>" in html_text


def test_empty_publisher_shows_only_the_time() -> None:
    assert "\n<i>2022-09-03 12:44</i>\n" in render_item(article(publisher="  "), tz=SHANGHAI)


# --- title-only items and hostile sizes -------------------------------------------------------------------


def test_title_only_item_has_no_summary_line() -> None:
    html_text = render_item(article(summary="Fusion record", summary_method="title", tags=[]), tz=SHANGHAI)
    assert html_text == (
        '<b><a href="https://example.com/a/1">Fusion record</a></b>\n<i>Xinhua · 2022-09-03 12:44</i>'
    )


def test_title_cut_as_summary_counts_as_title_only() -> None:
    title = "A long headline that the summarizer cut short"
    html_text = render_item(article(title=title, summary=title[:20] + "…", tags=[]), tz=SHANGHAI)
    assert html_text.count("\n") == 1


def test_five_thousand_character_summary_is_cut() -> None:
    html_text = render_item(article(summary="word " * 1000), tz=SHANGHAI)
    summary_line = html_text.split("\n")[2]
    assert summary_line.endswith("…")
    assert len(summary_line) <= 1500
    assert_valid_chunk(html_text)


def test_five_thousand_character_title_is_cut() -> None:
    html_text = render_item(article(title="T" * 5000), tz=SHANGHAI)
    assert ">" + "T" * 255 + "…</a></b>" in html_text
    assert_valid_chunk(html_text)


@pytest.mark.parametrize("hostile", ['"', "<", "&", "😀", "<script>"])
def test_hostile_everything_still_fits_one_message(hostile: str) -> None:
    view = article(
        title=hostile * 5000,
        summary=hostile * 5000,
        publisher=hostile * 5000,
        link="https://e.com/?q=" + '"' * 900,
        tags=[f"tag{i}" for i in range(1000)],
    )
    html_text = render_item(view, tz=SHANGHAI, index=100)
    assert_valid_chunk(html_text, limit=3500)
    [chunk] = render_items([view], tz=SHANGHAI, header="<b>" + "H" * 500 + "</b>")
    assert_valid_chunk(chunk)


def test_emoji_count_as_two_units() -> None:
    assert utf16_len("😀") == 2
    assert utf16_len("中") == 1
    assert utf16_len("&amp;") == 5
    # 1,400 emoji are 1,400 characters but 2,800 units: the budget is in units
    html_text = render_caption(article(summary="😀" * 1400), tz=SHANGHAI)
    assert len(html_text) < 1024 < utf16_len(html_text) + 1024
    assert utf16_len(html_text) <= 1024


def test_emoji_items_chunk_by_units_not_characters() -> None:
    views = [article(id=i, title=f"Item {i}", summary="😀" * 1000) for i in range(10)]
    chunks = render_items(views, tz=SHANGHAI)
    for chunk in chunks:
        assert_valid_chunk(chunk)
    # two items are under 4096 characters but over 4096 units
    assert len(chunks) == 10


# --- lists ------------------------------------------------------------------------------------------------


def test_hundred_items_are_packed_between_items() -> None:
    views = [
        article(id=i, title=f'<Title {i:03d}> & "more"', summary=f"Summary {i} " * (i * 3 % 97 + 1))
        for i in range(100)
    ]
    header = "<b>Latest</b>"
    chunks = render_items(views, tz=SHANGHAI, header=header, numbered=True, start=11)
    assert len(chunks) > 1
    for chunk in chunks:
        assert_valid_chunk(chunk)
    assert chunks[0].startswith(header + "\n\n11. <b>")
    items = [render_item(v, tz=SHANGHAI, index=11 + i) for i, v in enumerate(views)]
    # cut only between items: joining the chunks back gives the whole list
    assert "\n\n".join(chunks) == "\n\n".join([header, *items])
    for i, view in enumerate(views):
        title = escape(view.title)
        assert sum(chunk.count(title) for chunk in chunks) == 1, f"item {i} split or repeated"
    # as few chunks as possible: the next item never fit in the chunk before it
    for chunk, following in zip(chunks, chunks[1:], strict=False):
        first_item = following.split("\n\n")[0]
        joined = chunk + "\n\n" + first_item
        assert utf16_len(joined) > 4096 or telegram_entities(joined) > 100


def telegram_entities(chunk: str) -> int:
    """The entities Telegram makes of a chunk: its tags, and the hashtags of its text."""
    tags = _Tags()
    tags.feed(chunk)
    return tags.count + len(re.findall(r"#\w", html_to_plain(chunk)))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count += 1


def test_a_long_list_keeps_every_item_s_formatting() -> None:
    """Telegram formats only a message's first 100 entities: twenty items with their tags and other
    publishers made one message of about 200, and the last half showed without links or hashtags."""
    also = tuple(
        AlsoCarried(
            title=f"Report {k}", link=f"https://example.com/{k}", publisher=f"Outlet {k}", published_at=WHEN
        )
        for k in range(3)
    )
    views = [
        article(id=i, title=f"Item {i}", tags=[f"tag{i}x{k}" for k in range(6)], also=also) for i in range(20)
    ]
    chunks = render_items(views, tz=SHANGHAI, header="<b>Latest</b>", numbered=True)
    assert len(chunks) > 1
    assert max(telegram_entities(chunk) for chunk in chunks) <= 100
    assert sum(chunk.count("<b><a href=") for chunk in chunks) == 20


def test_small_limit_still_packs_whole_items() -> None:
    views = [article(id=i, title=f"T{i}", summary="s" * 300) for i in range(20)]
    chunks = render_items(views, tz=SHANGHAI, limit=1000)
    for chunk in chunks:
        assert_valid_chunk(chunk, limit=1000)
    assert sum(chunk.count("<b><a ") for chunk in chunks) == 20


def test_no_items() -> None:
    assert render_items([], tz=SHANGHAI, header="<b>Nothing new</b>") == ["<b>Nothing new</b>"]
    assert render_items([], tz=SHANGHAI) == []


def test_unnumbered_items_have_no_index() -> None:
    [chunk] = render_items([article(), article(id=2)], tz=SHANGHAI)
    assert chunk.startswith("<b><a ")
    assert "\n\n<b><a " in chunk


def test_header_longer_than_the_limit_is_split_too() -> None:
    header = "\n\n".join(f"<i>line {i}</i>" for i in range(600))
    chunks = render_items([article()], tz=SHANGHAI, header=header)
    for chunk in chunks:
        assert_valid_chunk(chunk)
    assert chunks[-1].endswith("#energy #China")


# --- digests ----------------------------------------------------------------------------------------------


def test_digest_groups_and_numbers_across_groups() -> None:
    groups = [
        DigestGroup(topic="人工智能", items=[article(id=1, title="A"), article(id=2, title="B")]),
        DigestGroup(topic="empty", items=[]),
        DigestGroup(topic="2022", items=[article(id=3, title="C")]),
        DigestGroup(topic="Hong Kong", items=[article(id=4, title="D")]),
    ]
    [chunk] = render_digest(groups, tz=SHANGHAI, header="<b>Digest</b>")
    assert_valid_chunk(chunk)
    assert chunk.startswith("<b>Digest</b>\n\n<b>#人工智能</b>\n1. <b><a ")
    assert '\n\n2. <b><a href="https://example.com/a/1">B</a></b>' in chunk
    assert '\n\n<b>2022</b>\n3. <b><a href="https://example.com/a/1">C</a></b>' in chunk
    assert "\n\n<b>#Hong_Kong</b>\n4. <b>" in chunk
    assert "empty" not in chunk


def test_digest_hostile_topic_is_escaped() -> None:
    [chunk] = render_digest(
        [DigestGroup(topic="<>&" * 100, items=[article()])], tz=SHANGHAI, header="<b>Digest</b>"
    )
    assert_valid_chunk(chunk)
    assert "<b>" + "&lt;&gt;&amp;" * 21 + "…</b>\n1. " in chunk


def test_digest_heading_stays_with_its_first_item() -> None:
    groups = [
        DigestGroup(
            topic=f"topic{g}",
            items=[
                article(id=g * 10 + i, title=f"G{g} I{i}", summary="x" * (200 + 37 * g)) for i in range(3)
            ],
        )
        for g in range(12)
    ]
    chunks = render_digest(groups, tz=SHANGHAI, header="<b>Digest</b>", limit=1200)
    assert len(chunks) > 5
    numbers: list[int] = []
    for chunk in chunks:
        assert_valid_chunk(chunk, limit=1200)
        lines = chunk.split("\n")
        assert not lines[-1].startswith("<b>#topic"), "a heading left alone at the end of a chunk"
        for line, following in zip(lines, lines[1:], strict=False):
            if line.startswith("<b>#topic"):
                assert following.split(". ")[0].isdigit()
        numbers += [int(line.split(".")[0]) for line in lines if line.split(". ")[0].isdigit()]
    assert numbers == list(range(1, 37))
    for g in range(12):
        assert sum(chunk.count(f"<b>#topic{g}</b>\n") for chunk in chunks) == 1


def test_digest_without_groups_is_the_header() -> None:
    assert render_digest([], tz=SHANGHAI, header="<b>Digest</b>") == ["<b>Digest</b>"]


# --- captions ---------------------------------------------------------------------------------------------


def test_caption_fits_1024() -> None:
    caption = render_caption(article(summary="long sentence. " * 400), tz=SHANGHAI)
    assert_valid_chunk(caption, limit=1024)
    assert caption.startswith('<b><a href="https://example.com/a/1">Fusion record</a></b>\n')
    assert caption.endswith("…\n#energy #China")


def test_caption_never_cuts_inside_an_entity() -> None:
    for n in range(1000, 1030):
        caption = render_caption(article(summary="a&" * n), tz=SHANGHAI)
        assert_valid_chunk(caption, limit=1024)
        summary_line = caption.split("\n")[2]
        assert summary_line.endswith("…")
        assert set(summary_line.replace("&amp;", "").removesuffix("…")) == {"a"}


def test_caption_of_a_hostile_item() -> None:
    view = article(
        title='"' * 5000, publisher="<" * 5000, link="https://e.com/" + "&" * 900, summary="&" * 5000
    )
    caption = render_caption(view, tz=SHANGHAI)
    assert_valid_chunk(caption, limit=1024)


def test_short_caption_is_the_whole_item() -> None:
    assert render_caption(article(), tz=SHANGHAI) == render_item(article(), tz=SHANGHAI)


# --- plain text -------------------------------------------------------------------------------------------


def test_html_to_plain() -> None:
    assert html_to_plain('<b><a href="https://e.com/?a=1&amp;b=2">Title &amp; more</a></b>') == (
        "Title & more (https://e.com/?a=1&b=2)"
    )
    assert html_to_plain('<a href="https://e.com/">https://e.com/</a>') == "https://e.com/"
    assert html_to_plain("one<br>two<br/>three") == "one\ntwo\nthree"
    assert html_to_plain("<i>a &lt;b&gt; &quot;c&quot; &#x27;d&#x27;</i>") == "a <b> \"c\" 'd'"
    assert html_to_plain("<tg-spoiler>hidden</tg-spoiler> <code>x &lt; y</code>") == "hidden x < y"
    assert html_to_plain('<a href="https://e.com/">') == "https://e.com/"


def test_rendered_item_round_trips_to_plain_text() -> None:
    view = article(title="<script>alert(1)</script>", summary='"quoted" & <tagged>')
    assert html_to_plain(render_item(view, tz=SHANGHAI, index=1)) == (
        "1. <script>alert(1)</script> (https://example.com/a/1)\n"
        "Xinhua · 2022-09-03 12:44\n"
        '"quoted" & <tagged>\n'
        "#energy #China"
    )


# --- split_text -------------------------------------------------------------------------------------------


def test_split_text_short_text_is_one_chunk() -> None:
    assert split_text("<b>Help</b>\n\n/latest") == ["<b>Help</b>\n\n/latest"]
    assert split_text("") == []


def test_split_text_between_blocks() -> None:
    blocks = [f"<b>/command{i}</b> &amp; " + "x" * 80 for i in range(200)]
    chunks = split_text("\n\n".join(blocks), limit=1000)
    for chunk in chunks:
        assert_valid_chunk(chunk, limit=1000)
    assert "\n\n".join(chunks) == "\n\n".join(blocks)


def test_split_text_long_block_between_lines() -> None:
    block = "\n".join(f"<i>line {i}</i> " + "y" * 50 for i in range(100))
    text = "<b>intro</b>\n\n" + block + "\n\nend"
    chunks = split_text(text, limit=700)
    for chunk in chunks:
        assert_valid_chunk(chunk, limit=700)
    assert chunks[0] == "<b>intro</b>"
    assert all(line.startswith("<i>line ") for chunk in chunks[1:-1] for line in chunk.split("\n"))


def test_split_text_tag_spanning_lines_is_closed_and_reopened() -> None:
    text = "<pre>" + "\n".join(f"row {i:04d} " + "z" * 40 for i in range(200)) + "</pre>"
    chunks = split_text(text, limit=1000)
    assert len(chunks) > 1
    for chunk in chunks:
        assert_valid_chunk(chunk, limit=1000)
        assert chunk.startswith("<pre>")
        assert chunk.endswith("</pre>")


def test_split_text_one_hostile_line() -> None:
    line = '<b>bold <a href="https://e.com/?a=1&amp;b=2">' + "w&amp;😀 " * 3000 + "</a> tail</b>"
    chunks = split_text(line, limit=1000)
    assert len(chunks) > 10
    for chunk in chunks:
        assert_valid_chunk(chunk, limit=1000)
    plain = "".join(html_to_plain(chunk).replace(" (https://e.com/?a=1&b=2)", "") for chunk in chunks)
    # only the spaces cut at are gone
    without_link = html_to_plain(line).replace(" (https://e.com/?a=1&b=2)", "")
    assert plain.replace(" ", "") == without_link.replace(" ", "")


def test_split_text_without_spaces_cuts_between_characters() -> None:
    text = "<i>" + "中" * 5000 + "😀" * 3000 + "</i>"
    chunks = split_text(text)
    for chunk in chunks:
        assert_valid_chunk(chunk)
    assert "".join(html_to_plain(c) for c in chunks) == "中" * 5000 + "😀" * 3000


def test_split_text_refuses_tags_longer_than_the_limit() -> None:
    with pytest.raises(ValueError, match="open tags"):
        split_text('<a href="https://e.com/' + "a" * 200 + '">' + "x" * 500 + "</a>", limit=100)


# --- the real corpus --------------------------------------------------------------------------------------


def corpus_views() -> list[ArticleView]:
    from bot.services.prepare import prepare_article
    from bot.sources.posts import parse_post

    articles = CORPUS / "articles"
    if not articles.is_dir():
        pytest.skip(f"../shared/corpus not found at {CORPUS}")
    views = []
    for i, path in enumerate(sorted(articles.glob("*.md"))):
        raw = parse_post(path.read_bytes(), origin=path.name, default_tz=SHANGHAI)
        prepared = prepare_article(raw, max_chars=150)
        views.append(
            ArticleView(
                id=i,
                title=prepared.title,
                link=prepared.link,
                publisher=raw.author or "corpus",
                published_at=raw.published,
                listed_at=WHEN,
                summary=prepared.summary.text,
                summary_method=prepared.summary.method,
                tags=prepared.tags,
                image_url=prepared.image_url,
                chars=len(prepared.text),
            )
        )
    return views


def test_corpus_renders_within_limits() -> None:
    views = corpus_views()
    assert len(views) > 10
    chunks = render_items(views, tz=SHANGHAI, header="<b>Corpus</b>", numbered=True)
    for chunk in chunks:
        assert_valid_chunk(chunk)
    for view in views:
        assert sum(chunk.count(f">{escape(view.title)}</") for chunk in chunks) >= 1
        assert_valid_chunk(render_caption(view, tz=SHANGHAI), limit=1024)
        plain = html_to_plain(render_item(view, tz=SHANGHAI))
        assert plain.startswith(view.title)
    groups = [
        DigestGroup(topic=tag, items=[v for v in views if tag in v.tags]) for tag in ("中国", "微软", "2022")
    ]
    for chunk in render_digest(groups, tz=SHANGHAI, header="<b>Digest</b>"):
        assert_valid_chunk(chunk)


# --- the story's other reports (issue #12) ----------------------------------------------------------------


def test_an_item_names_the_other_publishers_of_its_story_once_each_with_links() -> None:
    also = (
        AlsoCarried("Same story", "https://kkj.example.com/1", "快科技", WHEN),
        AlsoCarried("Same story", "javascript:alert(1)", "cnBeta <b>", WHEN),
        AlsoCarried("Same story again", "https://kkj.example.com/2", "快科技", WHEN),
        AlsoCarried("Own sub-feed", "https://example.com/a/2", "Xinhua", WHEN),
    )
    html = render_item(article(also=also), tz=SHANGHAI)
    lines = html.split("\n")
    assert lines[2] == '↳ <a href="https://kkj.example.com/1">快科技</a>, cnBeta &lt;b&gt;'
    assert render_item(article(), tz=SHANGHAI).split("\n")[2] == "The reactor ran for 1056 seconds."


def test_many_other_publishers_are_counted_past_five() -> None:
    also = tuple(AlsoCarried("t", None, f"Outlet {i}", WHEN) for i in range(8))
    line = render_item(article(also=also), tz=SHANGHAI).split("\n")[2]
    assert line == "↳ Outlet 0, Outlet 1, Outlet 2, Outlet 3, Outlet 4 +3"


def test_digest_buttons_mute_only_a_group_a_topic_can_name() -> None:
    """The catch-all group's label and a tag longer than a topic may be (32 characters) once got a mute
    button: the first muted the word "Other" everywhere, the second always answered "expired"."""
    from bot.commands.digest_buttons import digest_buttons

    long_tag = "Federal Communications Commission"  # 33 characters
    groups = [
        DigestGroup(long_tag, [article(id=1), article(id=2)]),
        DigestGroup("AI", [article(id=3), article(id=4)]),
        DigestGroup("Other", [article(id=5), article(id=6), article(id=7)], plain=True),
    ]
    data = [b.callback_data for row in digest_buttons("en", groups) for b in row if b.callback_data]
    assert [d for d in data if d.startswith("mt:")] == ["mt:AI"]
