"""Turn the bytes of a fetched or imported document into text, whatever its charset claims.

Chinese feeds often lie about their encoding: "gb2312" documents carry GBK/GB18030-only characters,
"utf-8" documents are really GBK, and some declare nothing at all. `decode_document` tries the
declared charsets strictly, falls back to UTF-8 and then to charset-normalizer's guess, and only
decodes with replacement characters as a last resort. It never raises.

This module only decodes; it knows nothing about feeds or posts.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# GB2312 and GBK are subsets of GB18030; decoding as the superset keeps the characters
# that mislabelled "gb2312" feeds really contain (e.g. 镕, 堃, 喆).
_SUPERSETS: dict[str, str] = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    # WHATWG: documents labelled latin-1 or ascii are decoded as windows-1252.
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "big5": "big5hkscs",
}

# Text in these needs no ASCII-compatible reading, so their declaration must be tried before UTF-8.
_WIDE_PREFIXES = ("utf-16", "utf-32")

_XML_DECL_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""", re.IGNORECASE
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# Labels seen in the wild that Python's codec registry does not know.
_ALIASES: dict[str, str] = {
    "x-gbk": "gbk",
    "gb_2312-80": "gb2312",
    "x-gb2312": "gb2312",
    "x-euc-cn": "gb2312",
}


def normalize_charset(label: str | None) -> str | None:
    """Return the Python codec name to decode `label` with, widened to its superset; None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_ALIASES.get(label, label)).name
        "".encode(name)  # "hex", "base64", "zlib" are codecs too, but not of text: LookupError
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def sniff_declared_charset(data: bytes) -> str | None:
    """The charset a document declares about itself (XML declaration, else an HTML <meta>), as written."""
    head = data[:2048]
    match = _XML_DECL_ENCODING.match(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The `charset=` parameter of a Content-Type header, or None."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_document(data: bytes, *, declared: str | None) -> str:
    """Decode `data` to text. `declared` is the charset from outside the document (HTTP header), if any.

    Order: byte-order mark; UTF-8 if the bytes are valid UTF-8; the declared charsets (external,
    then in-document) that decode cleanly; charset-normalizer's guess; finally the first candidate
    (or UTF-8) with replacement characters.

    Valid UTF-8 wins over any ASCII-compatible declaration because real GBK or Latin-1 text is
    practically never valid UTF-8 by accident, while UTF-8 mislabelled "gb2312" or "iso-8859-1"
    is common (and single-byte or GB18030 decoding would accept it, producing mojibake).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = _strict(data, codec)
            if text is not None:
                return text

    candidates: list[str] = []
    for label in (declared, sniff_declared_charset(data)):
        known = normalize_charset(label)
        if known and known not in candidates:
            candidates.append(known)

    # UTF-16 or UTF-32 text without a BOM has a NUL byte in its first character; a declaration readable as
    # ASCII bytes ("<?xml ... encoding='utf-16'", common from .NET) is then a wrong label on UTF-8 or the like
    if b"\x00" not in data[:4]:
        candidates = [c for c in candidates if not c.startswith(_WIDE_PREFIXES)]
    wide = [c for c in candidates if c.startswith(_WIDE_PREFIXES)]
    for codec in [*wide, "utf-8", *candidates]:
        text = _strict(data, codec)
        if text is not None:
            return text

    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        codec = normalize_charset(best.encoding) or best.encoding
        text = _strict(data, codec)
        if text is not None:
            return text

    return data.decode(candidates[0] if candidates else "utf-8", errors="replace")
