"""Read one Markdown post with YAML front matter (the Hexo format of the RSSHub archive) as a RawArticle.

Pure parsing: bytes in, RawArticle out, PostParseError (one line) for a file that is not a post.
Walking folders, size caps and storing belong to the ingest service, not here.

The archive's quirks this module knows about:
- every file starts with a blank line before the opening `---`;
- every `{`/`}` is written `&#123;`/`&#125;`, front matter included;
- ASCII ':' and curly quotes in titles were replaced by '_' upstream (left as they are);
- `headimg`/`thumbnail` hold a picsum.photos random placeholder or `/images/404.gif` when the feed
  item had no picture;
- the old template indents category items by four spaces.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import tzinfo
from urllib.parse import urlsplit

import yaml
from selectolax.lexbor import LexborHTMLParser

from bot.sources.dates import parse_date
from bot.sources.types import BodyFormat, PostParseError, RawArticle
from bot.urls import is_http_url

_FRONT_MATTER = re.compile(
    r"\A\s*---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*\r?$\n?",
    re.DOTALL | re.MULTILINE,
)
# A real tag: `<p>`, `<img src=…>`, `</div>`, `<br/>`. Markdown autolinks (`<https://…>`) do not match.
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LIST_SEPARATORS = re.compile(r"[,，]")

_IMAGE_KEYS = ("headimg", "thumbnail", "image", "cover")
_LINK_KEYS = ("link", "url", "permalink")
_GUID_KEYS = ("guid", "id")
# Hosts that only serve random placeholder pictures, never the article's own.
_PLACEHOLDER_HOSTS = frozenset({"picsum.photos", "placehold.it", "via.placeholder.com", "placekitten.com"})

TITLE_FALLBACK_CHARS = 60


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # A Chinese post saved by an old editor may be GB18030; accept it only when it decodes cleanly
        # and reads as Chinese text, because GB18030 accepts many binary byte sequences too.
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise PostParseError("", "not UTF-8 text") from None
        if _CONTROL.search(text) or not _CJK.search(text):
            raise PostParseError("", "not UTF-8 text") from None
        return text
    if "\x00" in text:
        raise PostParseError("", "not UTF-8 text (binary data)")
    return text


def _unescape(value: str) -> str:
    # html.unescape also covers the archive's &#123;/&#125; for braces.
    return html.unescape(value).strip()


def _text(value: object) -> str | None:
    """A front matter scalar as stripped text; None for missing, empty, or nested values."""
    if value is None or isinstance(value, dict | list):
        return None
    text = _unescape(str(value))
    return text or None


def _terms(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t for part in _LIST_SEPARATORS.split(value) if (t := _unescape(part))]
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value:
            out.extend(_terms(item))
        return out
    if isinstance(value, dict):
        return []
    text = _unescape(str(value))
    return [text] if text else []


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _http_url(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if text.startswith("//"):
        text = "https:" + text
    return text if is_http_url(text) else None


def _image(meta: dict[str, object]) -> str | None:
    for key in _IMAGE_KEYS:
        url = _http_url(meta.get(key))
        if url is None:
            continue
        host = (urlsplit(url).hostname or "").lower()
        if host in _PLACEHOLDER_HOSTS:
            continue
        return url
    return None


def _author(value: object) -> str | None:
    if isinstance(value, dict):
        return _text(value.get("name"))
    if isinstance(value, list):
        names = [n for item in value if (n := _author(item))]
        return ", ".join(names) or None
    return _text(value)


def _first(meta: dict[str, object], keys: Iterable[str]) -> object:
    for key in keys:
        if meta.get(key) not in (None, ""):
            return meta[key]
    return None


def body_format_of(body: str) -> BodyFormat:
    """ "html" when the body contains an HTML tag, else "markdown"."""
    return "html" if _HTML_TAG.search(body) else "markdown"


def title_from_body(body: str, limit: int = TITLE_FALLBACK_CHARS) -> str | None:
    """The first `limit` characters of the body's visible text, as a stand-in title; None if no text."""
    # selectolax decodes entities (including the archive's &#123;) while extracting text.
    text = " ".join(LexborHTMLParser(body).text(separator=" ").split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _yaml_error(exc: yaml.YAMLError, first_line: int) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {first_line + mark.line}" if mark is not None else ""
    return " ".join(f"broken YAML front matter{where}: {problem}".split())


def parse_post(data: bytes, *, origin: str, default_tz: tzinfo) -> RawArticle:
    """Parse a Markdown/HTML post with YAML front matter.

    Raises PostParseError for: not UTF-8 (or clean GB18030) text, an empty file, no front matter,
    broken YAML, front matter that is not a mapping, and a post with neither title nor body.
    A post with a title and no text (a lone video or image) is valid.
    """
    if not data.strip():
        raise PostParseError(origin, "empty file")
    try:
        text = _decode(data)
    except PostParseError as exc:
        raise PostParseError(origin, exc.reason) from None
    if not text.strip():
        raise PostParseError(origin, "empty file")

    match = _FRONT_MATTER.match(text)
    if match is None:
        if text.lstrip().startswith("---"):
            raise PostParseError(origin, "front matter is not closed by a '---' line")
        raise PostParseError(origin, "no front matter (the file must start with a '---' line)")

    # Line number in the file of the first YAML line, for error messages.
    first_line = text.count("\n", 0, match.start("yaml")) + 1
    try:
        meta = yaml.safe_load(match.group("yaml"))
    except yaml.YAMLError as exc:
        raise PostParseError(origin, _yaml_error(exc, first_line)) from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise PostParseError(origin, f"front matter is a {type(meta).__name__}, not a mapping")
    meta = {str(k).lower(): v for k, v in meta.items()}

    body = text[match.end() :].strip()
    title = _text(meta.get("title")) or (title_from_body(body) if body else None)
    if title is None:
        raise PostParseError(origin, "no title and no body")

    return RawArticle(
        title=title,
        body=body,
        body_format=body_format_of(body),
        origin=origin,
        link=_http_url(_first(meta, _LINK_KEYS)),
        guid=_text(_first(meta, _GUID_KEYS)),
        author=_author(meta.get("author")),
        published=parse_date(meta.get("date"), default_tz=default_tz),
        categories=_dedupe([*_terms(meta.get("categories")), *_terms(meta.get("tags"))]),
        image_url=_image(meta),
        is_excerpt=False,
    )
