"""Turn article bodies (HTML, light Markdown or plain text) into clean paragraphs.

Holds the text-cleaning step that runs before sentence splitting, summarizing and tagging:
`html_to_text`, `markdown_to_text` and the `CleanText` they return. Everything here is pure and
deterministic; it must not fetch the images it collects, read settings, or touch the database.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from summarizer.boilerplate import is_site_furniture

__all__ = [
    "CleanText",
    "html_to_text",
    "markdown_to_text",
    "normalize_whitespace",
    "one_line",
    "strip_control_characters",
]


@dataclass(frozen=True)
class CleanText:
    """Paragraphs separated by a blank line ("\\n\\n"), and the image URLs found, in order."""

    text: str
    images: list[str]


# Elements whose content is never article text (players, widgets, code run by the page).
_DROP_TAGS = (
    "script",
    "style",
    "iframe",
    "video",
    "audio",
    "noscript",
    "form",
    "button",
    "svg",
    "canvas",
    "object",
    "embed",
    "template",
    "select",
    "textarea",
    "head",
)

# Elements that start and end a paragraph. Table cells only get a space between them so that a
# row stays one readable line.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "center", "dd", "details", "dir",
        "div", "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "html", "li", "main", "nav", "ol", "p", "section", "summary", "table",
        "tbody", "tfoot", "thead", "tr", "ul", "caption",
    }
)
_CELL_TAGS = frozenset({"td", "th"})

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_HORIZONTAL_SPACE = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_TAG_LIKE = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*|/[A-Za-z]|!--)[^>]*>")
_CJK = r"\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"


def normalize_whitespace(s: str) -> str:
    """Collapse every kind of space inside a paragraph to one ASCII space and trim the ends.

    Newlines count as spaces here: a paragraph never keeps a line break. Zero-width and control
    characters are removed because they break matching and tokenizing downstream.
    """
    s = s.translate(_ZERO_WIDTH)
    s = "".join(ch for ch in s if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    s = s.replace("\r", " ").replace("\n", " ")
    return _HORIZONTAL_SPACE.sub(" ", s).strip()


# C0 and C1 control characters and DEL: a terminal obeys them (BEL, ESC starting "\x1b[31m", CSI
# U+009B), so text from a source must not carry them to a screen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_RUNS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_LINE_BREAK = re.compile(r"\r\n?")
# bidirectional embeddings, overrides and isolates: they make text display in another order than it is
# stored ("Trojan Source"), so a title or link can look like something it is not. Marks (U+200E/F) stay.
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def strip_control_characters(s: str) -> str:
    """`s` without control characters (bidirectional overrides included), keeping its line breaks ("\r\n" and
    "\r" become "\n") and tabs."""
    s = _BIDI_CONTROL.sub("", _LINE_BREAK.sub("\n", s))
    return _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else "", s)


def one_line(s: str) -> str:
    """`s` as one line for a title, name or category: each run of control characters or white space
    becomes one space, bidirectional overrides are dropped, the ends are trimmed."""
    return " ".join(_CONTROL_RUNS.sub(" ", _BIDI_CONTROL.sub("", s)).split())


def _finish(paragraphs: list[str], images: list[str]) -> CleanText:
    kept: list[str] = []
    for raw in paragraphs:
        p = normalize_whitespace(raw)
        if p and not is_site_furniture(p):
            kept.append(p)
    return CleanText(text="\n\n".join(kept), images=images)


def _add_image(images: list[str], url: str | None) -> None:
    url = (url or "").strip()
    if url and not url.lower().startswith("data:") and url not in images:
        images.append(url)


def _plain_text_paragraphs(text: str) -> list[str]:
    """Paragraphs of tag-free text: blank lines separate them if there are any, else every line is one."""
    text = html.unescape(text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip()
    if re.search(r"\n[ \t\u3000]*\n", text):
        blocks = re.split(r"\n[ \t\u3000]*\n", text)
        return [_join_soft_lines(block.split("\n")) for block in blocks]
    return text.split("\n")


def _join_soft_lines(lines: list[str]) -> str:
    """Join wrapped lines; no space between two CJK characters, where a space would be wrong."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if out and not (re.match(f"[{_CJK}]", out[-1]) and re.match(f"[{_CJK}]", line[0])):
            out += " "
        out += line
    return out


def _link_list_names(node: LexborNode) -> list[str] | None:
    """The link texts of a <ul>/<ol> whose every item is one link and nothing else ("搜狐视频", "爱奇艺", …
    in a Bangumi item), or None for any other list. Such a list becomes one paragraph of names, so that
    the boilerplate step can recognise it as a link list rather than as separate short lines."""
    items = [child for child in node.iter() if child.tag not in ("-text", "-comment", "!--")]
    if len(items) < 2 or any(item.tag != "li" for item in items):
        return None
    names = []
    for item in items:
        links = item.css("a")
        text = normalize_whitespace(item.text(deep=True))
        if len(links) != 1 or not text or normalize_whitespace(links[0].text(deep=True)) != text:
            return None
        names.append(text)
    return names


# Start tags that make lexbor walk its stack of open elements (to close a <p> in button scope): nested n deep,
# they cost O(n) each, O(n^2) in all (200,000 nested <div>s, a 1 MB post: six minutes). Real pages nest
# them a few dozen deep; past MAX_BLOCK_DEPTH the markup is dropped and the text kept.
_BLOCK_TAG = re.compile(
    r"<(/?)(?:address|article|aside|blockquote|center|details|dialog|dir|div|dl|fieldset|figcaption|figure"
    r"|footer|form|header|hgroup|main|menu|nav|ol|pre|section|summary|table|ul|h[1-6])(?=[\s>/])",
    re.IGNORECASE,
)
_ANY_TAG = re.compile(r"<[^>]*>")
MAX_BLOCK_DEPTH = 1000


def parse_html(html_source: str) -> LexborHTMLParser:
    """lexbor's tree of `html_source`; of its text alone when block elements nest deeper than any page."""
    depth = deepest = 0
    for match in _BLOCK_TAG.finditer(html_source):
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
        if deepest > MAX_BLOCK_DEPTH:
            html_source = _ANY_TAG.sub("\n", html_source)
            break
    return LexborHTMLParser(html_source)


def html_to_text(html_source: str) -> CleanText:
    """Extract readable paragraphs and image URLs from an HTML fragment or document.

    Text without any tag is accepted too and treated as plain text (entities still unescaped).
    """
    if not _TAG_LIKE.search(html_source):
        return _finish(_plain_text_paragraphs(html_source), [])

    tree = parse_html(html_source)
    root = tree.root
    if root is None:
        return CleanText(text="", images=[])
    root.strip_tags(list(_DROP_TAGS))

    paragraphs: list[str] = []
    images: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            paragraphs.append("".join(current))
            current.clear()

    # Explicit stack instead of recursion: hostile input can nest thousands of elements deep.
    # A None entry marks "leaving a block element".
    stack: list[LexborNode | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:
            flush()
            continue
        tag = node.tag or ""
        if tag == "-text":
            current.append(node.text_content or "")
            continue
        if tag in ("-comment", "!--"):
            continue
        if tag == "img":
            attrs = node.attributes
            _add_image(images, attrs.get("src") or attrs.get("data-src") or attrs.get("data-original"))
            continue
        if tag == "pre":
            # Preformatted text keeps its lines; each becomes a paragraph.
            flush()
            paragraphs.extend(node.text(deep=True).split("\n"))
            continue
        if tag in ("ul", "ol"):
            names = _link_list_names(node)
            if names is not None:
                flush()
                paragraphs.append(" ".join(names))
                continue
        if tag in _CELL_TAGS:
            current.append(" ")
        if tag in _BLOCK_TAGS:
            flush()
            stack.append(None)
        children = list(node.iter(include_text=True))
        stack.extend(reversed(children))
    flush()
    return _finish(paragraphs, images)


# --- Markdown -------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+\s*)?$")
_SETEXT_OR_RULE = re.compile(r"^\s{0,3}(?:[-=_*]\s*){3,}$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HTML_BLOCK_START = re.compile(r"^\s{0,3}<(?:[A-Za-z][A-Za-z0-9-]*|/[A-Za-z]|!--)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*[\"')])?\s*\)")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?[^)\s>]*>?(?:\s+[\"'(][^)]*[\"')])?\s*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_REF_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+|[^>\s@]+@[^>\s@]+)>")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_EMPHASIS = (
    re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
    re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"),
)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:[^\n]*\n)*?---[ \t]*(?:\n|\Z)")


def _inline_markdown(line: str) -> str:
    """Inline Markdown to HTML-safe text with <img> tags left for html_to_text to collect."""
    codes: list[str] = []

    def keep_code(m: re.Match[str]) -> str:
        codes.append(html.escape(m.group(2).strip(), quote=False))
        return f"\x00{len(codes) - 1}\x00"

    line = _INLINE_CODE.sub(keep_code, line)
    line = _IMAGE.sub(
        lambda m: f'<img src="{html.escape(m.group(2))}" alt="{html.escape(m.group(1))}">', line
    )
    line = _LINK.sub(r"\1", line)
    line = _REF_LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(lambda m: html.escape(m.group(1)), line)
    line = _EMPHASIS[0].sub(r"\2", line)
    for pattern in _EMPHASIS[1:]:
        line = pattern.sub(r"\1", line)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], line)


def markdown_to_text(md: str) -> CleanText:
    """Extract paragraphs and image URLs from light Markdown, including embedded HTML blocks.

    The Markdown is rewritten into simple HTML (one element per paragraph, heading, list item,
    code line) so that all cleaning rules live in `html_to_text` alone. A leading YAML front
    matter block is skipped.
    """
    md = _FRONT_MATTER.sub("", md.replace("\r\n", "\n").replace("\r", "\n"), count=1)
    out: list[str] = []
    paragraph: list[str] = []
    fence: str | None = None
    in_html_block = False

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline_markdown(_join_soft_lines(paragraph))}</p>")
            paragraph.clear()

    for line in md.split("\n"):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            else:
                out.append(f"<p>{html.escape(line, quote=False)}</p>")
            continue
        fence_match = _FENCE.match(line)
        if fence_match:
            flush()
            fence = fence_match.group(1)
            continue
        if not line.strip():
            flush()
            in_html_block = False
            continue
        if in_html_block or (not paragraph and _HTML_BLOCK_START.match(line)):
            # Raw HTML passes through untouched until the next blank line, as in CommonMark.
            in_html_block = True
            out.append(line)
            continue
        if _REF_DEFINITION.match(line) or (_TABLE_DELIMITER.match(line) and "|" in line):
            continue
        if _SETEXT_OR_RULE.match(line):
            flush()
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            out.append(f"<h2>{_inline_markdown(heading.group(1))}</h2>")
            continue
        line = _QUOTE.sub("", line)
        item = _LIST_ITEM.match(line)
        if item:
            flush()
            paragraph.append(line[item.end() :])
            continue
        if line.strip().startswith("|"):
            flush()
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out.append(f"<p>{_inline_markdown(' '.join(c for c in cells if c))}</p>")
            continue
        paragraph.append(line)
    flush()
    return html_to_text("\n".join(out)) if out else CleanText(text="", images=[])
