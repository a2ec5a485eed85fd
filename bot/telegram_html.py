"""Telegram's HTML text: measuring it, escaping into it, splitting it into messages and flattening it
to plain text.

Pure, and about Telegram's format only: articles and digests are rendered in `bot/render.py`, which uses
these. The outbox sender uses them too, for the plain-text resend of a message whose markup Telegram refused.

Telegram facts relied on: with parse_mode=HTML, only `<`, `>`, `&` (plus `"` inside attribute values) need
escaping; a message text holds at most 4096 and a caption at most 1024 UTF-16 code units.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from html.parser import HTMLParser

__all__ = [
    "CAPTION_LIMIT",
    "MESSAGE_ENTITY_LIMIT",
    "MESSAGE_LIMIT",
    "escape",
    "html_to_plain",
    "split_text",
    "utf16_len",
]

MESSAGE_LIMIT = 4096
# the entities (bold, links, hashtags...) a message keeps the formatting of; past them, plain text
MESSAGE_ENTITY_LIMIT = 100
CAPTION_LIMIT = 1024


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Escape text for Telegram HTML, in element content and in attribute values alike."""
    return html.escape(text, quote=True)



# --- HTML to plain text -----------------------------------------------------------------------------------


class _PlainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        # the href and the text gathered so far of each <a> still open
        self._links: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._emit("\n")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            self._close_link()

    def handle_data(self, data: str) -> None:
        self._emit(data)

    def _emit(self, text: str) -> None:
        (self._links[-1][1] if self._links else self._out).append(text)

    def _close_link(self) -> None:
        href, parts = self._links.pop()
        text = "".join(parts)
        if href and href.strip() != text.strip():
            text = f"{text} ({href})" if text.strip() else href
        self._emit(text)

    def text(self) -> str:
        self.close()
        while self._links:
            self._close_link()
        return "".join(self._out)


def html_to_plain(html_text: str) -> str:
    """Telegram HTML as plain text, for the console and for resending after Telegram rejects the markup.

    `<a href="U">T</a>` becomes 'T (U)' (just 'T' when U is T), `<br>` a newline; other tags are dropped and
    entities unescaped.
    """
    parser = _PlainText()
    parser.feed(html_text)
    return parser.text()


# --- splitting arbitrary HTML -----------------------------------------------------------------------------

# Tags and entities are the atoms nothing may be cut inside; this tokenizes our own or callers' Telegram HTML,
# which is flat and simple, so that the text between them can be cut character by character.
_TAG_OR_ENTITY = re.compile(r"</?[A-Za-z][^<>]*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
_VOID_TAGS = frozenset({"br", "hr", "img", "wbr"})


def _atoms(text: str) -> list[str]:
    atoms: list[str] = []
    pos = 0
    for match in _TAG_OR_ENTITY.finditer(text):
        atoms.extend(text[pos : match.start()])
        atoms.append(match.group())
        pos = match.end()
    atoms.extend(text[pos:])
    return atoms


def _apply_tag(atom: str, stack: list[tuple[str, str]]) -> None:
    """Update the stack of open (name, opening tag) pairs with one atom."""
    if not atom.startswith("<") or len(atom) < 3:
        return
    match = _TAG_NAME.match(atom)
    if match is None:
        return
    name = match.group(1).lower()
    if atom.startswith("</"):
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == name:
                del stack[i:]
                break
    elif name not in _VOID_TAGS and not atom.endswith("/>"):
        stack.append((name, atom))


def _closing(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _boundary(atoms: Sequence[str], k: int) -> tuple[int, int]:
    """(preference, where the next chunk starts) for a cut before atoms[k]; lower preference is better.

    The separator a cut is made at is dropped: it would only be white space at a chunk's edge.
    """
    if k == len(atoms):
        return -1, k
    if atoms[k] == "\n":
        if k + 1 < len(atoms) and atoms[k + 1] == "\n":
            return 0, k + 2
        return 1, k + 1
    if atoms[k] == " ":
        return 2, k + 1
    return 3, k


def split_text(text_html: str, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Long HTML in chunks of at most `limit` units, cut between blocks ("\\n\\n") where possible, else
    between lines, else between words or characters; never inside a tag or an entity. Tags open at a cut are
    closed at the end of the chunk and reopened at the start of the next, so every chunk is well-formed.

    Raises ValueError when the tags open at some point are too long to close and reopen within `limit`.
    """
    if utf16_len(text_html) <= limit:
        return [text_html] if html_to_plain(text_html).strip() else []
    atoms = _atoms(text_html)
    chunks: list[str] = []
    open_at_start: list[tuple[str, str]] = []
    start = 0
    while start < len(atoms):
        prefix = "".join(tag for _, tag in open_at_start)
        stack = list(open_at_start)
        used = utf16_len(prefix)
        best: dict[int, tuple[int, int, list[tuple[str, str]]]] = {}
        k = start
        while k < len(atoms):
            atom = atoms[k]
            used += utf16_len(atom)
            _apply_tag(atom, stack)
            k += 1
            # text only adds to `used`, and a closing tag moves its length from the closing suffix into
            # `used`: the sum never shrinks, so once over the limit no later cut can fit
            if used + utf16_len(_closing(stack)) > limit:
                break
            preference, next_start = _boundary(atoms, k)
            best[preference] = (k, next_start, list(stack))
        if not best:
            raise ValueError(f"cannot split: the open tags alone exceed {limit} UTF-16 code units")
        end, next_start, open_at_end = best[min(best)]
        chunk = prefix + "".join(atoms[start:end]) + _closing(open_at_end)
        if html_to_plain(chunk).strip():
            chunks.append(chunk)
        open_at_start, start = open_at_end, next_start
    return chunks
