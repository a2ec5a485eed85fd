"""parse_opml and render_opml: real-world shaped OPML, round trips, and refusal of garbage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.sources.opml import OpmlFeed, parse_opml, render_opml
from bot.sources.types import OpmlError

NOW = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Feeds exported from a reader</title></head>
  <body>
    <outline text="Loose" type="rss" xmlUrl="https://loose.example.com/feed" />
    <outline text="\xe6\x96\xb0\xe9\x97\xbb" title="\xe6\x96\xb0\xe9\x97\xbb">
      <outline text="Guardian" title="The Guardian" type="rss"
               xmlUrl="https://www.theguardian.com/us/rss" htmlUrl="https://www.theguardian.com/us"/>
      <outline text="Tech">
        <outline text="heise" type="rss" xmlurl="http://www.heise.de/developer/rss/news-atom.xml"/>
      </outline>
      <outline text="duplicate" type="rss" xmlUrl="https://loose.example.com/feed" />
    </outline>
    <outline text="Broken">
      <outline text="no url" type="rss" />
      <outline text="not http" type="rss" xmlUrl="file:///etc/passwd" />
      <outline text="ok" type="rss" xmlUrl="https://ok.example.com/atom" htmlUrl="javascript:alert(1)"/>
    </outline>
  </body>
</opml>
"""


def test_nested_categories() -> None:
    feeds = parse_opml(NESTED, origin="subs.opml")
    assert feeds == [
        OpmlFeed(url="https://loose.example.com/feed", title="Loose", html_url=None, category=None),
        OpmlFeed(
            url="https://www.theguardian.com/us/rss",
            title="The Guardian",
            html_url="https://www.theguardian.com/us",
            category="新闻",
        ),
        # The innermost folder names the category.
        OpmlFeed(
            url="http://www.heise.de/developer/rss/news-atom.xml",
            title="heise",
            html_url=None,
            category="Tech",
        ),
        OpmlFeed(url="https://ok.example.com/atom", title="ok", html_url=None, category="Broken"),
    ]


def test_round_trip() -> None:
    feeds = [
        OpmlFeed(
            url="https://a.example.com/rss", title="A & <B>", html_url="https://a.example.com/", category=None
        ),
        OpmlFeed(url="https://b.example.com/atom?x=1&y=2", title=None, html_url=None, category="科技"),
        OpmlFeed(url="https://c.example.com/feed", title="观察者网", html_url=None, category="新闻"),
        OpmlFeed(url="https://d.example.com/feed", title='D "quoted"', html_url=None, category="科技"),
    ]
    text = render_opml(feeds, now=NOW)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<title>newsbot subscriptions</title>" in text
    assert "<dateCreated>Fri, 01 Mar 2024 12:30:00 +0000</dateCreated>" in text
    assert 'type="rss"' in text
    parsed = parse_opml(text.encode(), origin="out.opml")
    # Grouped by category: uncategorised first, then folders in first-seen order.
    assert parsed == [feeds[0], feeds[1], feeds[3], feeds[2]]
    assert parse_opml(render_opml(parsed, now=NOW).encode(), origin="again") == parsed


def test_render_title_and_zone() -> None:
    text = render_opml(
        [], title="Mine", now=datetime(2024, 3, 1, 20, 30, tzinfo=timezone(timedelta(hours=8)))
    )
    assert "<title>Mine</title>" in text
    assert "<dateCreated>Fri, 01 Mar 2024 20:30:00 +0800</dateCreated>" in text
    assert parse_opml(text.encode(), origin="empty") == []


def test_render_needs_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_opml([], now=datetime(2024, 3, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\x00\x01binary\xff", "not XML: "),
        (b"just text", "not XML: "),
        (b"<opml><body><outline></body></opml>", "not XML: "),
        (b"<rss><channel/></rss>", "root element is <rss>, not <opml>"),
        (b"<opml version='2.0'><head/></opml>", "no <body> element"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b'<opml><body><outline text="&b;" xmlUrl="https://x.example/"/></body></opml>',
            "DOCTYPE/ENTITY declarations are not allowed in OPML",
        ),
        (b"<!DOCTYPE opml><opml><body/></opml>", "DOCTYPE/ENTITY declarations are not allowed in OPML"),
        (b"<!doctype opml><opml><body/></opml>", "not XML: "),  # XML spells it in capitals
        # a UTF-16 document hid its declarations from a scan of the bytes, and its entities were expanded
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY a "https://x.example/">]>'
            '<opml><body><outline text="x" xmlUrl="&a;"/></body></opml>'.encode("utf-16"),
            "DOCTYPE/ENTITY declarations are not allowed in OPML",
        ),
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml><opml><body/></opml>'.encode("utf-16-be"),
            "DOCTYPE/ENTITY declarations are not allowed in OPML",
        ),
    ],
)
def test_garbage_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(OpmlError) as caught:
        parse_opml(data, origin="bad.opml")
    assert caught.value.reason.startswith(reason)
    assert str(caught.value).startswith("bad.opml: ")
    assert "\n" not in str(caught.value)
