"""Pick a handful of topic tags for an article.

Holds `extract_tags`: TF-IDF over jieba tokens filtered by part of speech, with the title counted
extra, book/film titles in 《》 kept whole, numbers and news boilerplate removed. English text gets
a simpler word-frequency path. Pure and deterministic: ties are broken by first position, never by
set or dict iteration order of anything unordered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from summarizer._jieba import english_stopwords, idf_table, news_stopwords, pos_cut
from summarizer.language import detect_language

__all__ = ["extract_tags"]

# Nouns, names, places, organisations, other proper nouns, verbal nouns, abbreviations, English.
_TAG_POS = frozenset({"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "nw", "vn", "j", "eng", "an"})
# Named entities make better tags than common nouns of the same weight.
_ENTITY_POS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz", "j", "book"})
# Used only to reach `min_tags` when the strict set leaves too few candidates.
_FALLBACK_POS = frozenset({"v", "vd", "a", "ad", "ng", "s", "i"})

_TITLE_WEIGHT = 3.0
_ENTITY_BOOST = 1.3
_BOOK_TITLE = re.compile(r"《([^《》\n]{1,30})》")
# Numbers, dates, percentages and quantities: "2021年", "12月", "1056秒", "1.6%", "100多", "第3".
_NUMERIC = re.compile(
    r"^(?:第)?[\d０-９.,，%％+\-~～/:：]+(?:[多余几]?[年月日号时分秒岁元块亿万千百个次倍天周名位人家辆台款%％]+)?$"
    r"|^[零一二三四五六七八九十百千万亿两几]+[年月日号时分秒岁元个次倍天周名位]?$"
)
_HAS_LETTER = re.compile(r"[A-Za-z\u3400-\u9fff]")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")


@dataclass
class _Candidate:
    """Running evidence for one tag: weighted count, first position and whether it is a name."""

    text: str
    first: int
    count: float = 0.0
    entity: bool = False
    fallback: bool = True
    idf: float = 0.0
    forms: dict[str, int] = field(default_factory=dict)


def _is_usable(word: str) -> bool:
    if not _HAS_LETTER.search(word) or _NUMERIC.match(word):
        return False
    lower = word.lower()
    if lower in news_stopwords() or lower in english_stopwords():
        return False
    return len(word) >= 2


def _add(
    found: dict[str, _Candidate], word: str, pos: int, weight: float, *, entity: bool, fallback: bool
) -> None:
    key = word.lower()
    cand = found.get(key)
    if cand is None:
        cand = found[key] = _Candidate(text=word, first=pos)
    cand.count += weight
    cand.entity = cand.entity or entity
    cand.fallback = cand.fallback and fallback
    cand.forms[word] = cand.forms.get(word, 0) + 1


def _collect_chinese(text: str, weight: float, found: dict[str, _Candidate], offset: int) -> None:
    idf, median = idf_table()
    pos = offset
    # Titles in 《》 are one tag; cutting them would give "流浪" and "地球".
    for m in _BOOK_TITLE.finditer(text):
        title = m.group(1).strip()
        if _is_usable(title):
            _add(found, title, offset + m.start(), weight, entity=True, fallback=False)
            found[title.lower()].idf = max(found[title.lower()].idf, median * 1.2)
    text = _BOOK_TITLE.sub("，", text)
    for word, flag in pos_cut(text):
        pos += 1
        if not _is_usable(word):
            continue
        if flag in _TAG_POS or word.isascii():
            _add(found, word, pos, weight, entity=flag in _ENTITY_POS, fallback=False)
        elif flag in _FALLBACK_POS:
            _add(found, word, pos, weight, entity=False, fallback=True)
        else:
            continue
        cand = found[word.lower()]
        if not cand.idf:
            cand.idf = idf.get(word, median)


def _collect_english(text: str, weight: float, found: dict[str, _Candidate], offset: int) -> None:
    stop = english_stopwords()
    sentence_start = True
    for i, m in enumerate(_EN_WORD.finditer(text)):
        word = m.group(0).strip("'-")
        if i and re.search(r"[.!?:]\s*$", text[max(0, m.start() - 2) : m.start()]):
            sentence_start = True
        lower = word.lower()
        if len(word) >= 3 and lower not in stop and not _NUMERIC.match(word):
            # A capitalized word in mid-sentence is a name; `_display` keeps the capitals when
            # the word is never seen in lower case.
            named = word[0].isupper() and not sentence_start
            _add(found, word, offset + i, weight, entity=named, fallback=False)
            found[lower].idf = 1.0
        sentence_start = False


def _display(cand: _Candidate) -> str:
    forms = sorted(cand.forms.items(), key=lambda kv: -kv[1])  # stable: ties keep first-seen order
    if not forms:
        return cand.text
    if any(form.islower() for form, _ in forms) and all(form.isascii() for form, _ in forms):
        return forms[0][0].lower()  # a common English word, capitalized only at sentence starts
    return forms[0][0]  # "Excel" over "excel"; Chinese words have one form


def extract_tags(text: str, *, title: str = "", max_tags: int = 6, min_tags: int = 3) -> list[str]:
    """Return up to `max_tags` tags, best first; at least `min_tags` when the text has enough words.

    No tag is a substring (case-insensitive) of a better-ranked one.
    """
    if max_tags <= 0:
        return []
    found: dict[str, _Candidate] = {}
    english = detect_language(f"{title}\n{text}") == "en"
    collect = _collect_english if english else _collect_chinese
    collect(title, _TITLE_WEIGHT, found, 0)
    collect(text, 1.0, found, 1_000_000)

    def score(c: _Candidate) -> float:
        s = c.count * (c.idf or 1.0)
        return s * _ENTITY_BOOST if c.entity else s

    strict = sorted((c for c in found.values() if not c.fallback), key=lambda c: (-score(c), c.first, c.text))
    loose = sorted((c for c in found.values() if c.fallback), key=lambda c: (-score(c), c.first, c.text))

    tags: list[str] = []
    lowered: list[str] = []

    def take(pool: list[_Candidate], limit: int) -> None:
        for cand in pool:
            if len(tags) >= limit:
                return
            shown = _display(cand)
            low = shown.lower()
            if any(low in t for t in lowered):
                continue
            # "西安市" after "西安", "英格兰队" after "英格兰": the same tag with a suffix.
            if any(t in low and len(low) - len(t) <= 1 for t in lowered):
                continue
            tags.append(shown)
            lowered.append(low)

    take(strict, max_tags)
    if len(tags) < min(min_tags, max_tags):
        take(loose, min(min_tags, max_tags))
    return tags
