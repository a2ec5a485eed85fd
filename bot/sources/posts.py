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

Front matter is untrusted: it is parsed with aliases refused, nesting and size bounded, so a hostile
file (an alias bomb, a self-referencing alias, thousands of nested `[`) is one PostParseError, not
minutes of CPU, gigabytes of memory or a RecursionError that ends the whole import.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import tzinfo
from urllib.parse import urlsplit

import yaml

from bot.sources.dates import parse_date
from bot.sources.types import BodyFormat, PostParseError, RawArticle
from bot.urls import is_http_url
from summarizer.clean import one_line, parse_html

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
# Real front matter is a few hundred bytes and two or three levels deep; these leave ample room.
MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_FRONT_MATTER_DEPTH = 20


class _Refused(yaml.YAMLError):  # type: ignore[misc]  # yaml is untyped
    """Front matter the loader will not build: `reason` for the message, `mark` for its line."""

    def __init__(self, reason: str, mark: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mark = mark


class _FrontMatterLoader(yaml.SafeLoader):  # type: ignore[misc]  # yaml is untyped
    """SafeLoader that refuses aliases and bounds nesting while composing, before anything is built.

    Aliases are what alias bombs and self-referencing (`&x [*x]`) values are made of, and the
    composer recurses once per nesting level, so both are stopped here.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: object, index: object) -> object:
        if self.check_event(yaml.AliasEvent):
            raise _Refused("aliases are not allowed", self.peek_event().start_mark)
        if self._depth >= MAX_FRONT_MATTER_DEPTH:
            raise _Refused(
                f"nested more than {MAX_FRONT_MATTER_DEPTH} levels deep", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _AsWritten(str):
    """A plain YAML number or boolean of the front matter, kept as written: a title "Yes", "0x10" or "12:30"
    once read "True", "16" or "750". `typed()` is YAML's own reading, for the date ("date: 1626074710")."""

    node: yaml.ScalarNode

    def typed(self) -> object:
        return _TYPED_READING[self.node.tag](_PLAIN_CONSTRUCTOR, self.node)


_PLAIN_CONSTRUCTOR = yaml.constructor.SafeConstructor()  # reads a node without a stream
_TYPED_READING = {
    "tag:yaml.org,2002:bool": yaml.SafeLoader.construct_yaml_bool,
    "tag:yaml.org,2002:int": yaml.SafeLoader.construct_yaml_int,
    "tag:yaml.org,2002:float": yaml.SafeLoader.construct_yaml_float,
}


def _as_written(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> _AsWritten:
    value = _AsWritten(loader.construct_scalar(node))
    value.node = node
    return value


for _tag in _TYPED_READING:
    _FrontMatterLoader.add_constructor(_tag, _as_written)  # this loader's own table: SafeLoader is unchanged


def _typed(value: object) -> object:
    """`value` as YAML reads it: a number for "date: 1626074710"; None for 5,000 digits."""
    if not isinstance(value, _AsWritten):
        return value
    try:
        return value.typed()
    except (ValueError, OverflowError):
        return None


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
    text = " ".join(parse_html(body).text(separator=" ").split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _load_front_matter(source: str, first_line: int) -> object:
    """The front matter's YAML value; PostParseError (origin left empty) when it is refused or broken."""
    size = len(source.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise PostParseError(
            "", f"front matter: {size:,} bytes, over the {MAX_FRONT_MATTER_BYTES:,}-byte limit"
        )
    try:
        return yaml.load(source, Loader=_FrontMatterLoader)  # a SafeLoader subclass: no arbitrary objects
    except _Refused as exc:
        line = getattr(exc.mark, "line", None)
        where = f" (line {first_line + line})" if isinstance(line, int) else ""
        raise PostParseError("", f"front matter: {exc.reason}{where}") from None
    except yaml.YAMLError as exc:
        raise PostParseError("", _yaml_error(exc, first_line)) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # YAML itself, but a value its constructors refuse: "date: 2021-13-01", an integer of 5,000 digits
        reason = one_line(str(exc))[:120]
        raise PostParseError("", f"front matter: a value YAML cannot read ({reason})") from None


def _yaml_error(exc: yaml.YAMLError, first_line: int) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {first_line + mark.line}" if mark is not None else ""
    return " ".join(f"broken YAML front matter{where}: {problem}".split())


def parse_post(data: bytes, *, origin: str, default_tz: tzinfo) -> RawArticle:
    """Parse a Markdown/HTML post with YAML front matter.

    Raises PostParseError for: not UTF-8 (or clean GB18030) text, an empty file, no front matter,
    broken YAML, front matter with aliases, nested over MAX_FRONT_MATTER_DEPTH levels or over
    MAX_FRONT_MATTER_BYTES, front matter that is not a mapping, and a post with neither title nor body.
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
        meta = _load_front_matter(match.group("yaml"), first_line)
    except PostParseError as exc:
        raise PostParseError(origin, exc.reason) from None
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
        published=parse_date(_typed(meta.get("date")), default_tz=default_tz),
        categories=_dedupe([*_terms(meta.get("categories")), *_terms(meta.get("tags"))]),
        image_url=_image(meta),
        is_excerpt=False,
    )
