"""Split Chinese, English and mixed text into sentences.

Holds `split_sentences` only. Rule-based and deterministic on purpose: the summarizer needs stable
sentence boundaries, not a model. Must not depend on jieba or any other tokenizer.
"""

from __future__ import annotations

import re
import string

from summarizer.language import is_cjk_char

__all__ = ["split_sentences"]

# A run of terminators: Chinese ones (ellipsis included), ASCII "!"/"?", an ASCII "..." or a lone ".".
_TERMINATOR = re.compile(r"[。！？；!?]+…*|…+[。！？!?]*|\.{3,}|\.")
# Closing quotes and brackets belong to the sentence they end: 他说：“好。”|然后……
_CLOSERS = re.compile(r"[”’」』）)\]】》〉\"']*")
_WORD_BEFORE = re.compile(r"([A-Za-z](?:[A-Za-z.]*[A-Za-z])?)$")
_WORD_CHARS = frozenset(string.ascii_letters + ".")

# Words that end in "." without ending the sentence (compared in lower case).
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "gov", "sen", "rep", "rev",
        "capt", "col", "lt", "sgt", "vs", "etc", "inc", "ltd", "co", "corp", "dept", "univ", "est",
        "no", "nos", "fig", "figs", "vol", "vols", "pp", "ch", "approx", "ca", "cf", "al",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
    }
)


def _ends_sentence(line: str, start: int, end: int, after: int) -> bool:
    """Decide whether the terminator at line[start:end] (closers up to `after`) ends a sentence."""
    term = line[start:end]
    nxt = line[after] if after < len(line) else ""
    if any(ch in "。！？；…" for ch in term):
        return True
    if term[0] in "!?" or term.startswith("..."):
        return nxt == "" or nxt.isspace() or is_cjk_char(nxt)
    # A single ASCII period.
    if nxt == "":
        return True
    if is_cjk_char(nxt):
        # "版本.然后": only between two CJK characters; "1.为人们" is a list number, not a stop.
        return start > 0 and is_cjk_char(line[start - 1])
    if not nxt.isspace():
        return False  # 3.14, 1.6%, example.com, U.S.A
    rest = line[after:].lstrip()
    if rest[:1].islower():
        return False  # a sentence does not start in lower case: "approx. three", "e.g. this"
    word_match = _word_before(line, start)
    if word_match:
        word = word_match.group(1)
        if "." in word or word.lower() in _ABBREVIATIONS:
            return False  # U.S., e.g., i.e., Mr., Jan.
        if len(word) == 1 and word.isupper():
            return False  # an initial: J. K. Rowling
    return True


def _word_before(line: str, end: int) -> re.Match[str] | None:
    """`_WORD_BEFORE` at `end`, searched from where the run of letters and dots ending there begins: from
    the line's start, a line of "A. A. A. ..." was searched anew at every period, quadratic time."""
    begin = end
    while begin > 0 and line[begin - 1] in _WORD_CHARS:
        begin -= 1
    return _WORD_BEFORE.search(line, begin, end)


def _split_line(line: str) -> list[str]:
    pieces: list[str] = []
    begin = 0
    pos = 0
    while True:
        m = _TERMINATOR.search(line, pos)
        if m is None:
            break
        closers = _CLOSERS.match(line, m.end())
        after = closers.end() if closers else m.end()
        if _ends_sentence(line, m.start(), m.end(), after):
            pieces.append(line[begin:after])
            begin = after
        pos = after
    pieces.append(line[begin:])
    return pieces


def split_sentences(text: str) -> list[str]:
    """Return the sentences of `text` in order, stripped, without empty or punctuation-only pieces.

    Any line break ends a sentence (paragraphs are never merged).
    """
    sentences: list[str] = []
    for line in text.splitlines():
        for piece in _split_line(line):
            piece = piece.strip()
            if any(ch.isalnum() for ch in piece):
                sentences.append(piece)
    return sentences
