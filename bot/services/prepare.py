"""Turn a RawArticle into what gets stored: clean text, image, language, summary, tags, content hash.

Pure CPU work, no I/O: the ingest service runs it in a worker thread so the event loop stays responsive.
Every article, from a file or a feed, passes `prepare_article`, so this is where text from a source loses its
control characters (terminal escapes such as "\x1b[31m"): `PreparedArticle.raw` is the cleaned RawArticle.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bot.sources.types import RawArticle
from bot.urls import is_http_url
from summarizer import (
    CleanText,
    Summary,
    analyze,
    detect_language,
    extract_tags,
    html_to_text,
    markdown_to_text,
    summarize,
)
from summarizer.boilerplate import strip_boilerplate
from summarizer.clean import one_line, strip_control_characters
from summarizer.matching import search_terms
from summarizer.stories import StoryFingerprint, fingerprint

TITLE_SUMMARY_VERSION = "title-1"
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
# below this many normalized characters a body is too thin to identify a story on its own
_MIN_HASHED_BODY = 40
_URL_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    raw: RawArticle
    title: str
    link: str | None
    text: str
    image_url: str | None
    language: str
    summary: Summary
    tags: list[str]
    content_hash: str
    terms: str  # what /search finds it by
    story: StoryFingerprint  # what finds the other reports of its story


_TRACKING_PARAMS = ("utm_", "fbclid", "gclid")


# what the database stores of an article's link (articles.link)
MAX_LINK_CHARS = 2048


def canonical_link(url: str | None) -> str | None:
    """The link that identifies an article: http(s) only, no fragment, no tracking parameters."""
    if not url:
        return None
    url = url.strip()
    # a control character (or a bidirectional override) is never part of a URL; percent-encoded it cannot
    # reach a terminal or reorder what a reader sees
    url = _URL_CONTROL.sub(lambda m: quote(m.group(), safe=""), url)
    if not is_http_url(url):
        return None
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith(_TRACKING_PARAMS)
    ]
    link = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))
    return link if len(link) <= MAX_LINK_CHARS else None  # longer than the database keeps: no link


def clean_body(raw: RawArticle) -> CleanText:
    if raw.body_format == "html":
        return html_to_text(raw.body)
    if raw.body_format == "markdown":
        return markdown_to_text(raw.body)
    return CleanText(text=raw.body.strip(), images=[])


def _normalized(text: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def content_hash(title: str, text: str) -> str:
    """Same story text, same hash: white space, punctuation, case and width do not count.

    Title-only items (flash news, video posts) are identified by their title instead.
    """
    body = _normalized(text)
    key = body if len(body) >= _MIN_HASHED_BODY else "title:" + _normalized(title) + "|" + body
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _cut_title(title: str, max_chars: int) -> str:
    return title if len(title) <= max_chars else title[: max_chars - 1] + "…"


# what the database keeps of an author (articles.author) and of a feed's entry id (articles.guid)
MAX_AUTHOR_CHARS = 256
MAX_GUID_CHARS = 1024


def without_control_characters(raw: RawArticle) -> RawArticle:
    """`raw` with no control characters in its title, body, author or categories, and an author and a guid
    the database can keep.

    Title, author and categories become one line (a run of control characters is one space); the body
    keeps its line breaks and tabs. Categories left empty are dropped. An over-long author is cut; an
    over-long guid becomes its SHA-256 (it still tells the entry from others, and the same entry met again
    gets the same one). Without this PostgreSQL refused such an article that SQLite stored.
    """
    author = one_line(raw.author) if raw.author is not None else None
    if author and len(author) > MAX_AUTHOR_CHARS:
        author = author[: MAX_AUTHOR_CHARS - 1] + "…"
    guid = raw.guid
    if guid is not None and len(guid) > MAX_GUID_CHARS:
        guid = "sha256:" + hashlib.sha256(guid.encode("utf-8", "surrogatepass")).hexdigest()
    categories = tuple(dict.fromkeys(c for c in map(one_line, raw.categories) if c))
    return replace(
        raw,
        title=one_line(raw.title),
        body=strip_control_characters(raw.body),
        author=author or None,
        guid=guid,
        categories=categories,
    )


def prepare_article(raw: RawArticle, *, max_chars: int) -> PreparedArticle:
    raw = without_control_characters(raw)
    cleaned = clean_body(raw)
    title = raw.title
    # disclaimers, bylines, promos and link lists go before anything reads the text: the summary, the tags,
    # the stored text and the story fingerprint all see the news alone
    text = strip_boilerplate(cleaned.text)
    # a body that only repeats the title (flash items) carries nothing more than the title
    if _normalized(text) == _normalized(title):
        text = ""
    # jieba cuts the text once: the summary, tags, story fingerprint and search terms all read this analysis
    analysis = analyze(text, title=title)
    if text:
        summary = summarize(text, title=title, max_chars=max_chars, analysis=analysis)
    else:
        summary = Summary(text=_cut_title(title, max_chars), method="title", version=TITLE_SUMMARY_VERSION)
    tags = extract_tags(text, title=title, analysis=analysis)
    image = raw.image_url or (cleaned.images[0] if cleaned.images else None)
    return PreparedArticle(
        raw=raw,
        title=title,
        link=canonical_link(raw.link),
        text=text,
        image_url=image,
        language=detect_language(title + "\n" + text),
        summary=summary,
        tags=tags,
        content_hash=content_hash(title, text),
        terms=search_terms(title, summary.text, tags, analysis=analysis),
        story=fingerprint(title, text, analysis=analysis),
    )
