"""The one place that touches jieba: quiet setup, tokenizing, POS tagging, IDF table, stop words.

jieba logs "Building prefix dict..." to stderr on first use; we raise its log level once here.
jieba is imported by the first call that tokenizes, and `jieba.posseg` by the first needing parts of speech,
never at import: together they take a third of a second that read commands (`newsbot latest`) do not need.
`jieba.analyse` is deliberately never imported: importing it opens its IDF file without closing it
(a ResourceWarning, an error under our pytest settings), so the IDF table is read here instead.
Everything runs from files shipped inside the jieba and summarizer packages; nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


def _cache_folder() -> str:
    """Where jieba keeps its prefix-dictionary cache: the user's cache folder, not /tmp/jieba.cache (which
    another user may own: writing it then fails with PermissionError); a per-user temp folder when the
    cache folder cannot be made."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    fallback = os.path.join(tempfile.gettempdir(), f"newsbot-{os.getuid()}")
    for folder in (os.path.join(base, "newsbot"), fallback):
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return tempfile.mkdtemp(prefix="newsbot-jieba-")


@cache
def _jieba() -> Any:
    """The jieba module, quiet and with its cache in our folder; imported on the first call."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.dt.tmp_dir = _cache_folder()
    return jieba


@cache
def _posseg() -> Any:
    """jieba.posseg (its import reads jieba's whole part-of-speech dictionary); imported on the first call."""
    _jieba()
    import jieba.posseg

    return jieba.posseg


__all__ = [
    "cut", "cut_for_search", "cut_keep_spaces", "english_stopwords", "idf_table", "news_stopwords", "pos_cut",
    "pos_tag", "run_pattern", "search_words",
]


# jieba's HMM copies its path at every character: a run of 60,000 characters it has no words for took
# minutes (quadratic). No sentence runs this long without punctuation (the corpus' longest run: 154), so a
# longer run is cut in pieces of this many characters; shorter runs are cut exactly as jieba cuts them.
MAX_RUN = 1000


def _pieces(text: str) -> Iterator[str]:
    """`text` in consecutive pieces, split only inside runs longer than MAX_RUN."""
    if len(text) <= MAX_RUN:
        yield text
        return
    start = 0
    for run in run_pattern().finditer(text):
        for split in range(run.start() + MAX_RUN, run.end(), MAX_RUN):
            yield text[start:split]
            start = split
    yield text[start:]


def _cut(text: str, *, for_search: bool = False) -> Iterator[str]:
    jieba = _jieba()
    for piece in _pieces(text):
        yield from (jieba.cut_for_search(piece) if for_search else jieba.cut(piece))


def cut(text: str) -> list[str]:
    """Tokens of `text` (precise mode, HMM on for unknown names)."""
    return [t for t in _cut(text) if t.strip()]


def cut_for_search(text: str) -> list[str]:
    """Tokens of `text` plus the shorter words inside long ones (足球比赛 -> 足球, 比赛, 足球比赛)."""
    return [t for t in _cut(text, for_search=True) if t.strip()]


def search_words(words: Iterable[str]) -> list[str]:
    """`cut_for_search` of a text, given the words of its ordinary `cut`: jieba's own loop over them, each
    word after the dictionary words of two and of three characters found inside it."""
    tokenizer = _jieba().dt
    tokenizer.check_initialized()  # its dictionary (FREQ) is empty until the first cut
    freq: dict[str, int] = tokenizer.FREQ
    found: list[str] = []
    for word in words:
        if len(word) > 2:
            found.extend(gram for i in range(len(word) - 1) if freq.get(gram := word[i : i + 2]))
        if len(word) > 3:
            found.extend(gram for i in range(len(word) - 2) if freq.get(gram := word[i : i + 3]))
        found.append(word)
    return found


def cut_keep_spaces(text: str) -> list[str]:
    """Tokens of `text` including the spaces between them, so that "".join(...) == text."""
    return list(_cut(text))


def _flag(word: str, tags: dict[str, str]) -> str:
    flag = tags.get(word)
    if flag is not None:
        return flag
    if word.isascii():
        return "m" if any(ch.isdigit() for ch in word) else "eng"
    if len(word) == 1 or any(ch.isdigit() for ch in word):
        return "x" if len(word) == 1 else "m"
    return _unknown_word_flag(word)


@lru_cache(maxsize=50_000)
def _unknown_word_flag(word: str) -> str:
    """A word jieba's HMM found outside its dictionary: a name or new term (李悦文), or a fragment (个省).

    Tagging the word on its own costs little and tells the two apart: a fragment comes back in pieces.
    """
    pieces = _posseg().lcut(word)
    return pieces[0].flag if len(pieces) == 1 else "x"


def pos_cut(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs, using jieba's ICTCLAS-style flags (n, nr, ns, v, eng...).

    Flags come from jieba's dictionary for the tokens of one ordinary cut; jieba.posseg would run a second
    Viterbi pass per sentence for the same words and costs six times a cut (see BENCHMARKS.md).
    """
    return pos_tag(cut(text))


def pos_tag(words: Iterable[str]) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) for words of an ordinary cut, as `pos_cut` tags them: a word's flag
    depends on the word alone, never on its neighbours."""
    tags: dict[str, str] = _posseg().dt.word_tag_tab
    return [(word, _flag(word, tags)) for word in words]


def run_pattern() -> re.Pattern[str]:
    """jieba's `re_han_default`: the runs (CJK characters, ASCII letters and digits, "+#&._%-") that its cut
    cuts one at a time; every other character is a token of its own."""
    pattern: re.Pattern[str] = _jieba().re_han_default
    return pattern


@lru_cache(maxsize=1)
def idf_table() -> tuple[dict[str, float], float]:
    """jieba's bundled IDF values and their median (used for words missing from the table)."""
    path = Path(_jieba().__file__).parent / "analyse" / "idf.txt"
    table: dict[str, float] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2:
                table[parts[0]] = float(parts[1])
    values = sorted(table.values())
    median = values[len(values) // 2] if values else 10.0
    return table, median


def _read_word_list(name: str) -> frozenset[str]:
    text = resources.files("summarizer").joinpath("data", name).read_text(encoding="utf-8")
    words = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(w.lower() for w in words if w)


@lru_cache(maxsize=1)
def news_stopwords() -> frozenset[str]:
    """Chinese news boilerplate and overly general words (data/stopwords_news.txt)."""
    return _read_word_list("stopwords_news.txt")


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """English function words and news filler, lower case (data/stopwords_en.txt)."""
    return _read_word_list("stopwords_en.txt")
