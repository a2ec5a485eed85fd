"""A feed with more entries than a fetch keeps is cut down to its newest ones before feedparser reads it
(issue #11: 80,000 entries were parsed whole). The cut must choose what parsing everything would have kept."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.sources.feed_trim import newest_entries_only
from bot.sources.feeds import parse_feed
from bot.sources.types import ParsedFeed

START = datetime(2026, 1, 1, tzinfo=UTC)


def _kept(feed: ParsedFeed) -> list[tuple[str, datetime | None]]:
    return [(e.title, e.published) for e in feed.entries]


def _everything_then_newest(data: bytes, max_items: int) -> ParsedFeed:
    """What parse_feed keeps when feedparser reads every entry (the cut disabled: no max_items), then
    the newest `max_items` chosen the way parse_feed chooses them."""
    whole = parse_feed(data, origin="https://news.example.com/feed", default_tz=UTC)
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(
        range(len(whole.entries)), key=lambda i: whole.entries[i].published or oldest, reverse=True
    )
    entries = [whole.entries[i] for i in sorted(ranked[:max_items])]
    return ParsedFeed(title=whole.title, link=whole.link, entries=entries)


def _rss(items: list[str], *, after_items: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<channel><title>Big &amp; busy</title><link>https://news.example.com/</link>"
        + "".join(items)
        + after_items
        + "</channel></rss>"
    ).encode()


def _shuffled_items(count: int) -> list[str]:
    rng = random.Random(11)
    items = []
    for i in range(count):
        when = START + timedelta(minutes=rng.randrange(100_000))
        if i % 7 == 0:
            date = ""  # undated: counts as older than any dated one
        elif i % 3 == 0:
            date = f"<dc:date>{when.isoformat()}</dc:date>"
        else:
            date = f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        items.append(
            f"<item><title>Item {i} &nbsp;&amp; more</title><link>https://news.example.com/{i}</link>{date}"
            f"<description><![CDATA[<p>Body {i} with </item> in text</p>]]></description></item>"
        )
    return items


def test_the_cut_keeps_what_parsing_everything_would_keep() -> None:
    data = _rss(_shuffled_items(1500), after_items="<copyright>c</copyright>")
    trimmed = parse_feed(data, origin="https://news.example.com/feed", default_tz=UTC, max_items=50)
    whole = _everything_then_newest(data, 50)
    assert len(trimmed.entries) == 50
    assert _kept(trimmed) == _kept(whole)
    assert [e.body for e in trimmed.entries] == [e.body for e in whole.entries]
    assert trimmed.title == whole.title == "Big & busy"


def test_an_atom_feed_listed_oldest_first_keeps_its_newest_entries() -> None:
    entries = [
        f"<entry><title>Entry {i}</title><id>urn:e:{i}</id><link href='https://news.example.com/{i}'/>"
        f"<updated>{(START + timedelta(hours=i)).isoformat()}</updated></entry>"
        for i in range(1000)
    ]
    data = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>'
        + "".join(entries)
        + "</feed>"
    ).encode()
    feed = parse_feed(data, origin="https://news.example.com/atom", default_tz=UTC, max_items=3)
    assert [e.title for e in feed.entries] == ["Entry 997", "Entry 998", "Entry 999"]


def test_a_feed_that_breaks_after_many_entries_keeps_the_newest_before_the_break() -> None:
    items = _shuffled_items(400)
    data = _rss(items[:300] + ["<item><title>broken <b></item>"] + items[300:])
    feed = parse_feed(data, origin="https://news.example.com/feed", default_tz=UTC, max_items=20)
    assert len(feed.entries) == 20
    numbers = {int(e.title.split()[1]) for e in feed.entries}
    assert max(numbers) < 300  # what follows the break is not read: it is not XML feedparser could trust
    assert _kept(feed) == _kept(_everything_then_newest(_rss(items[:300]), 20))


def test_a_small_feed_is_left_as_it_is() -> None:
    text = _rss(_shuffled_items(5)).decode()
    assert newest_entries_only(text, max_items=5, default_tz=UTC) is text


def test_an_item_nested_in_an_entry_is_not_an_entry_of_its_own() -> None:
    entries = [
        f"<entry><title>E{i}</title><updated>{(START + timedelta(days=i)).isoformat()}</updated>"
        f"<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'><item>x</item></div></content></entry>"
        for i in range(10)
    ]
    text = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        + "".join(entries)
        + "</feed>"
    )
    cut = newest_entries_only(text, max_items=2, default_tz=UTC)
    assert cut.count("<entry>") == 2
    assert "<title>E8</title>" in cut
    assert "<title>E9</title>" in cut
    assert cut.endswith("</feed>")


def test_every_corpus_feed_keeps_the_same_newest_entries(corpus_dir: Path) -> None:
    feeds = sorted((corpus_dir / "feeds").iterdir())
    assert feeds
    for path in feeds:
        data = path.read_bytes()
        for max_items in (1, 3):
            try:
                whole = _everything_then_newest(data, max_items)
            except Exception as exc:  # noqa: BLE001 - a feed the parser refuses is refused either way
                with pytest.raises(type(exc)):
                    parse_feed(
                        data, origin="https://news.example.com/feed", default_tz=UTC, max_items=max_items
                    )
                continue
            trimmed = parse_feed(
                data, origin="https://news.example.com/feed", default_tz=UTC, max_items=max_items
            )
            assert _kept(trimmed) == _kept(whole), path.name
