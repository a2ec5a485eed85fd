"""Decide whether two news articles report the same story (one event), to group its coverage across sources.

Pure and deterministic: text in, a small `StoryFingerprint` out, and a similarity between two fingerprints.
Nothing here reads the database or the clock; the caller passes how many hours apart the articles were listed.

Three kinds of evidence, because reposts and rewrites fail in different ways:
- MinHash over character 3-grams (one Han character or one Latin word per unit) of the title and lead, with
  64 fixed-seed permutations of a blake2b hash, so signatures agree across processes and restarts. Reposts
  and light edits agree on most of the 64 values; LSH bands of 4 values each give the "b" lookup keys.
- Weighted keywords (jieba tokens of the title and lead, TF-IDF with jieba's IDF table, names counted more)
  and the title's character bigrams, for rewritten coverage that shares the facts but not the wording.
- Numbers with their units ("4.5%", "1-5月", "143例", "12月10日", "神舟13号"). Same-topic items that are
  different stories (the COVID figures of two days, two launches, two spacewalks) differ mostly in numbers,
  so a number in one title that the other article never mentions weighs strongly against a match.

The rarest specific terms (numbers with units from the title, then names and keywords) give the few "k"
lookup keys that find rewritten coverage whose wording shares no band.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b as _blake2b
from itertools import repeat

from summarizer._jieba import cut, english_stopwords, idf_table, news_stopwords, pos_tag
from summarizer.analysis import Analysis

__all__ = [
    "SAME_STORY_THRESHOLD",
    "MAX_HOURS_APART",
    "StoryFingerprint",
    "fingerprint",
    "same_story",
    "story_similarity",
]

# Articles listed further apart than this are never grouped: the ingest service only looks back 72 h.
MAX_HOURS_APART = 72.0
# Tuned on the shared corpus (54 posts, 13 labelled groups, 1,431 pairs): labelled pairs score 0.75 and up,
# different stories 0.25 at most (two Windows 11 items; the synthetic COVID days of the tests 0.23).
# Labelled rewrites given a new, figure-free headline still score 0.46-0.66, so 0.40 keeps a margin both ways.
SAME_STORY_THRESHOLD = 0.40

_VERSION = 1
# Bounded work whatever the input size: only the title and the start of the body are read.
_MAX_INPUT_CHARS = 4000
_MAX_TITLE_CHARS = 200
_LEAD_UNITS = 300  # Han characters or Latin words of title + lead that are shingled
_KEYWORD_BODY_CHARS = 300  # body chars cut by jieba, the costly step (~2 ms for title + 300 chars)
_NUMBER_BODY_CHARS = 3000  # body chars scanned for numbers (a regex, cheap)

_NUM_PERM = 64
_BANDS = 16
_ROWS = _NUM_PERM // _BANDS
_BIN_BITS = 6  # 2**6 == _NUM_PERM bins
# Added per bin of distance when an empty bin borrows a neighbour's value (rotation densification).
_ROTATION_STEP = 0x9E3779B1
_MAX_TERMS = 24
_MAX_NUMBERS = 32
_MAX_TITLE_NUMBERS = 8
_MAX_KEYWORD_KEYS = 8
_NUMBER_KEYS = 3  # of the keyword keys
_MAX_KEY_CHARS = 64

_TITLE_WEIGHT = 3.0
_ENTITY_BOOST = 1.5
_KEYWORD_POS = frozenset({"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "nw", "vn", "j", "eng", "an", "x"})
_ENTITY_POS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz", "j"})


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
# The characters that keep Chinese text from being NFKC already (the full-width punctuation nearly every
# article has), each with its compatibility decomposition: NFKC of a text is NFKC of the text with any of its
# characters replaced by that decomposition, and without them most articles pass NFKC's quick check instead
# of being normalized character by character (0.1 ms of 0.9 ms per fingerprint).
_FOLD = tuple((ch, unicodedata.normalize("NFKD", ch)) for ch in "，；：（）？！～％…℃\u3000")
# A shingle unit: one Han character, or one run of other letters/digits (a Latin word, a number).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+")
# The patterns below begin with the character they consume first, not with a look-behind: the regex engine
# then skips ahead to the next comma or digit instead of trying the pattern at every character (a third to
# half of their time). A look-behind placed after that character says what one before it would have said:
# "\d(?<!\d\d)" matches where "(?<!\d)\d" does.
_THOUSANDS = re.compile(r"[,，](?<=\d[,，])(?=\d{3}(?!\d))")  # a comma after a digit, before three
_RANGE = re.compile(r"(\d)\s*[-—–~～至到]\s*(?=\d)")  # replaced by its digit and "-"
_DATE = re.compile(r"(\d(?<!\d\d)\d?)月(\d{1,2})[日号]")
_FULL_DATE = re.compile(r"^(\d{1,2}月)(\d{1,2}日)$")
_CN_DIGITS = "零〇一二三四五六七八九十百两"
# A numbered name: 神舟十三号, 天舟2号, 长征五号 (the two characters before keep it specific).
_ORDINAL = re.compile(rf"([\u4e00-\u9fff]{{2}})([0-9]+|[{_CN_DIGITS}]{{1,4}})号")
# A digit or Chinese numeral before "号", which every ordinal has: found at once, where the pattern above is
# tried at every Han character
_ORDINAL_HINT = re.compile(rf"[0-9{_CN_DIGITS}]号")
_NUMBER = re.compile(
    r"(\d(?<![\d.]\d)\d*(?:\.\d+)?(?:[-:+/]\d+(?:\.\d+)?)*)\s*"
    r"(%|℃|°c|°|个百分点|个基点|[年月日号时分秒岁元亿万千百个次倍天周名位人家辆台款例度桶枚张架颗座届期省份项家]{0,2})"
)
_YEAR = re.compile(r"^(?:19|20)\d\d年?$")


@dataclass(frozen=True, slots=True)
class StoryFingerprint:
    """What `same_story` needs of one article; `to_json` is what the ingest service stores with it."""

    minhash: tuple[int, ...]  # _NUM_PERM 32-bit values, empty when the article has no text at all
    terms: tuple[tuple[str, float], ...]  # keyword -> weight, L2-normalised, best first
    numbers: tuple[str, ...]  # numbers with units in order of first appearance, title first
    title_numbers: tuple[str, ...]  # the specific (non-year) numbers of the title
    title_units: str  # the title's shingle units joined, for title bigram overlap
    lookup_keys: tuple[str, ...]

    def to_json(self) -> str:
        packed = base64.b64encode(struct.pack(f"<{len(self.minhash)}I", *self.minhash)).decode("ascii")
        data = {
            "v": _VERSION,
            "m": packed,
            "t": [[term, weight] for term, weight in self.terms],
            "n": list(self.numbers),
            "tn": list(self.title_numbers),
            "ti": self.title_units,
            "k": list(self.lookup_keys),
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> StoryFingerprint:
        data = json.loads(text)
        if data.get("v") != _VERSION:  # made by another version of the algorithm: its keys and scores differ
            raise ValueError(f"story fingerprint version {data.get('v')!r}, not {_VERSION}")
        raw = base64.b64decode(data["m"])
        return cls(
            minhash=tuple(struct.unpack(f"<{len(raw) // 4}I", raw)),
            terms=tuple((str(term), float(weight)) for term, weight in data["t"]),
            numbers=tuple(str(n) for n in data["n"]),
            title_numbers=tuple(str(n) for n in data["tn"]),
            title_units=str(data["ti"]),
            lookup_keys=tuple(str(k) for k in data["k"]),
        )


def _normalize(text: str) -> str:
    # NFKC folds full-width digits, letters and punctuation ("１２％" -> "12%", "：" -> ":").
    text = _CONTROL.sub(" ", text)
    for char, decomposed in _FOLD:
        if char in text:
            text = text.replace(char, decomposed)
    return unicodedata.normalize("NFKC", text).lower()


def _units(text: str, limit: int | None = None) -> list[str]:
    """The shingle units of `text`, or its first `limit` units (the same, found without reading it all)."""
    if limit is None:
        return _UNIT.findall(text)
    # The first `limit` units of a prefix are those of the whole text once the prefix holds one more: a unit
    # ends before the next one starts.
    end = 2 * limit + 16
    while end < len(text):
        units = _UNIT.findall(text, 0, end)
        if len(units) > limit:
            return units[:limit]
        end *= 4
    return _UNIT.findall(text)[:limit]


# the empty 8-byte blake2b, copied for each text: cheaper than constructing one with its digest size
_EMPTY_HASH = _blake2b(digest_size=8)


def _stable_hashes(texts: Collection[str]) -> tuple[int, ...]:
    """Each text's 64-bit blake2b hash (little-endian), the same in every process, unlike `hash()`."""
    hashes = list(map(_blake2b.copy, repeat(_EMPTY_HASH, len(texts))))
    any(map(_blake2b.update, hashes, map(str.encode, texts)))  # update returns None: runs for every text
    digests = b"".join(map(_blake2b.digest, hashes))
    return struct.unpack(f"<{len(digests) // 8}Q", digests)


def _minhash(units: list[str]) -> tuple[int, ...]:
    """One-permutation MinHash with rotation densification (Shrivastava and Li, 2014).

    Each shingle's stable 64-bit hash picks one of 64 bins by its top bits; a bin keeps its smallest value,
    and an empty bin takes the next non-empty one's value plus a step per bin of distance. The agreement of
    two signatures estimates Jaccard similarity like 64 separate permutations would, at one hash per shingle
    instead of 64 (64 permutations cost ~8 ms per article in Python; this costs ~0.1 ms).
    """
    if not units:
        return ()
    if len(units) < 3:
        shingles = {"\x1f".join(units)}
    else:
        shingles = set(map("\x1f".join, zip(units, units[1:], units[2:], strict=False)))
    # each bin's smallest hash, whose bits below the bin bits are the bin's smallest too (same bin bits)
    empty = 1 << 64
    smallest = [empty] * _NUM_PERM
    index_shift = 64 - _BIN_BITS
    for value in _stable_hashes(shingles):
        index = value >> index_shift
        if value < smallest[index]:
            smallest[index] = value
    low_shift = 32 - _BIN_BITS
    lows = [(value >> low_shift) & 0xFFFFFFFF for value in smallest]  # 32 bits of what is below the bin bits
    if empty not in smallest:
        return tuple(lows)
    signature = []
    for index in range(_NUM_PERM):
        distance = 0
        while smallest[(index + distance) % _NUM_PERM] == empty:
            distance += 1
        signature.append((lows[(index + distance) % _NUM_PERM] + distance * _ROTATION_STEP) & 0xFFFFFFFF)
    return tuple(signature)


def _band_keys(signature: tuple[int, ...]) -> list[str]:
    packed = struct.pack(f"<{len(signature)}I", *signature)
    size = _ROWS * 4  # bytes of one band's values
    return [
        f"b{band:02d}{_blake2b(packed[band * size : (band + 1) * size], digest_size=8).hexdigest()}"
        for band in range(len(signature) // _ROWS)
    ]


def _cn_number(text: str) -> int | None:
    """Small Chinese numerals as used in names: 二 -> 2, 十三 -> 13, 二十一 -> 21, 一百零五 -> 105."""
    digits = {
        "零": 0,
        "〇": 0,
        "一": 1,
        "二": 2,
        "两": 2,
        "三": 3,
        "四": 4,
        "五": 5,
        "六": 6,
        "七": 7,
        "八": 8,
        "九": 9,
    }
    total, current = 0, 0
    for ch in text:
        if ch in digits:
            current = digits[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _unit_form(unit: str) -> str:
    # "1-9月份" and "1-9月", "400亿元" and "400亿" are the same figure.
    unit = unit.removesuffix("份")
    if len(unit) == 2 and unit[0] == "个":
        unit = unit[1]  # "31个省" and "31省份"
    if unit in ("亿元", "万元"):
        unit = unit[0]
    return unit


def _numbers(text: str) -> list[str]:
    """Numbers with units in order of first appearance, once each."""
    text = _RANGE.sub(r"\1-", _THOUSANDS.sub("", text))
    found: dict[str, None] = {}

    def ordinal(match: re.Match[str]) -> str:
        value = match.group(2)
        number = int(value) if value.isdigit() else _cn_number(value)
        if number is not None:
            found.setdefault(f"{match.group(1)}{number}号", None)
        return " "

    def date(match: re.Match[str]) -> str:
        found.setdefault(f"{int(match.group(1))}月{int(match.group(2))}日", None)
        return " "

    if _ORDINAL_HINT.search(text):  # without it, no ordinal to replace
        text = _ORDINAL.sub(ordinal, text)
    text = _DATE.sub(date, text)
    for match in _NUMBER.finditer(text):
        value, unit = match.group(1), _unit_form(match.group(2))
        if not unit and len(value.replace(".", "")) < 2:
            continue  # a bare single digit says nothing about which story this is
        # "2388+1742例" (confirmed + asymptomatic) is two counts with one unit; a rewrite may give either.
        for part in value.split("+"):
            if unit or len(part.replace(".", "")) >= 2:
                found.setdefault(part + unit, None)
    return list(found)


def _specific(number: str) -> bool:
    """Numbers that tell one event from another: not a bare year (2021年 is in half the corpus)."""
    return not _YEAR.match(number)


def _is_numeric(word: str) -> bool:
    return any(ch.isdigit() for ch in word) or all(ch in _CN_DIGITS for ch in word)


def _is_keyword(word: str, flag: str) -> bool:
    """Whether a word of the title or lead, with its part of speech, may be a keyword."""
    if len(word) < 2 or _is_numeric(word) or flag not in _KEYWORD_POS:
        return False
    if not any(ch.isalpha() for ch in word) or word in news_stopwords() or word in english_stopwords():
        return False
    return not (flag == "x" and not word.isascii())  # an "x" that is not Latin: a fragment of a cut


_NOT_KEYWORD, _KEYWORD, _NAME = 0, 1, 2


@lru_cache(maxsize=100_000)
def _keyword_kind(word: str) -> int:
    """_NOT_KEYWORD, _KEYWORD or _NAME (a keyword whose part of speech is a name's). A word's flag depends on
    the word alone (`pos_tag`), so this does too: the same few thousand words recur in every article, and
    each is tagged and judged once, not at every occurrence."""
    if len(word) < 2 or _is_numeric(word):  # never a keyword, whatever its flag: spares tagging it
        return _NOT_KEYWORD
    flag = pos_tag([word])[0][1]
    if not _is_keyword(word, flag):
        return _NOT_KEYWORD
    return _NAME if flag in _ENTITY_POS else _KEYWORD


def _keywords(title: str, lead: str, words: Callable[[str], list[str]]) -> list[tuple[str, float, bool]]:
    """(keyword, TF-IDF weight, is a name) best first; ties by first appearance."""
    idf, median = idf_table()
    weights: dict[str, float] = {}
    entity: dict[str, bool] = {}
    for text, weight in ((title, _TITLE_WEIGHT), (lead, 1.0)):
        for word in words(text):
            kind = _keyword_kind(word)
            if kind == _NOT_KEYWORD:
                continue
            weights[word] = weights.get(word, 0.0) + weight
            entity[word] = kind == _NAME
    scored = []
    for word, tf in weights.items():
        score = (1.0 + math.log(tf)) * idf.get(word, median)
        if entity[word]:
            score *= _ENTITY_BOOST
        scored.append((word, score, entity[word]))
    scored.sort(key=lambda item: -item[1])  # stable: equal scores keep first-appearance order
    return scored[:_MAX_TERMS]


def _keyword_key(term: str) -> str:
    key = "k" + term
    if len(key) > _MAX_KEY_CHARS:
        key = "k#" + hashlib.blake2b(term.encode("utf-8"), digest_size=16).hexdigest()
    return key


def fingerprint(title: str, text: str, *, analysis: Analysis | None = None) -> StoryFingerprint:
    """The fingerprint of one article; `text` is the cleaned body (Chinese or English), may be empty.

    `analysis`, the article's `analyze(text, title=title)`, spares cutting the title and lead again (only
    their lower-cased words and the lead's last, cut-off run are new); the fingerprint is the same without it.
    """
    title = _normalize(title[:_MAX_TITLE_CHARS]).strip()
    body = _normalize(text[:_MAX_INPUT_CHARS])
    title_units = _units(title)
    body_units = _units(body[: _LEAD_UNITS * 8], limit=max(0, _LEAD_UNITS - len(title_units)))
    lead_units = title_units[:_LEAD_UNITS] + body_units
    signature = _minhash(lead_units)

    keywords = _keywords(title, body[:_KEYWORD_BODY_CHARS], analysis.cut if analysis else cut)
    norm = math.sqrt(sum(w * w for _, w, _ in keywords)) or 1.0
    terms = tuple((word, round(w / norm, 4)) for word, w, _ in keywords)

    title_numbers = _numbers(title)
    numbers = list(dict.fromkeys(title_numbers + _numbers(body[:_NUMBER_BODY_CHARS])))[:_MAX_NUMBERS]
    specific_title_numbers = [n for n in title_numbers if _specific(n)][:_MAX_TITLE_NUMBERS]

    # Keyword keys: the figures a story is reported by (the title's first, then the lead's when the title
    # has fewer than three), then names, then the other keywords by weight. Rewrites keep these even when
    # no band survives, and a new headline without figures still shares the lead's figures. Dates and
    # bare numbers are left out: every story of the day shares "6月24日".
    lead_numbers = [n for n in numbers if _specific(n) and not _FULL_DATE.match(n) and not n.isdigit()]
    chosen: list[str] = []
    for number in specific_title_numbers + lead_numbers:
        if len(chosen) < _NUMBER_KEYS and len(number) >= 2 and number not in chosen:
            chosen.append(number)
    names = [word for word, _, is_entity in keywords if is_entity]
    ranked = names + [word for word, _, is_entity in keywords if not is_entity]
    for word in ranked:
        if len(chosen) >= _MAX_KEYWORD_KEYS:
            break
        if word not in chosen:
            chosen.append(word)
    keys = tuple(_band_keys(signature) + [_keyword_key(k) for k in chosen])
    return StoryFingerprint(
        minhash=signature,
        terms=terms,
        numbers=tuple(numbers),
        title_numbers=tuple(specific_title_numbers),
        title_units="".join(title_units[:64])
        if all(len(u) == 1 for u in title_units[:64])
        else " ".join(title_units[:64]),
        lookup_keys=keys,
    )


def _minhash_similarity(a: StoryFingerprint, b: StoryFingerprint) -> float:
    if not a.minhash or len(a.minhash) != len(b.minhash):
        return 0.0
    return sum(x == y for x, y in zip(a.minhash, b.minhash, strict=True)) / len(a.minhash)


def _cosine(a: StoryFingerprint, b: StoryFingerprint) -> float:
    weights = dict(a.terms)
    return min(1.0, sum(w * weights[t] for t, w in b.terms if t in weights))


def _bigrams(units: str) -> set[str]:
    chars = units.replace(" ", "")
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def _title_similarity(a: StoryFingerprint, b: StoryFingerprint) -> float:
    """Overlap coefficient of title character bigrams: a shortened title still matches the full one."""
    ga, gb = _bigrams(a.title_units), _bigrams(b.title_units)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / min(len(ga), len(gb))


def _number_overlap(a: StoryFingerprint, b: StoryFingerprint) -> float | None:
    """Share of the shorter list of specific numbers that the other article also has; None without any."""
    na = [n for n in a.numbers if _specific(n)]
    nb = [n for n in b.numbers if _specific(n)]
    if not na or not nb:
        return None
    return len(set(na) & set(nb)) / min(len(na), len(nb))


def _with_date_parts(numbers: tuple[str, ...]) -> set[str]:
    """The numbers plus the month and the day of each full date: a headline's "17日" is "3月17日"."""
    found = set(numbers)
    for number in numbers:
        match = _FULL_DATE.match(number)
        if match:
            found.update(match.groups())
    return found


def _title_number_conflict(a: StoryFingerprint, b: StoryFingerprint) -> float:
    """Share of one title's specific numbers missing from the other article, the larger of the two ways.

    Counted in full when both headlines carry figures (and so disagree), at half when the other headline
    has none: headlines round ("超400亿" over a body's "410亿"), so a missing figure alone is weaker. An
    article with no figure at all cannot be the report of a headline's figure ("第3家芯片企业完成融资" is not
    "国产芯片企业融资创新高", however alike their words): that counts at half too.
    """
    worst = 0.0
    for first, second in ((a, b), (b, a)):
        if first.title_numbers:
            others = _with_date_parts(second.numbers)
            missing = sum(n not in others for n in first.title_numbers) / len(first.title_numbers)
            worst = max(worst, missing if second.title_numbers else missing / 2)
    return worst


def story_similarity(a: StoryFingerprint, b: StoryFingerprint) -> float:
    """How likely the two articles report the same event, in [0, 1]; symmetric."""
    copy = _minhash_similarity(a, b)
    keywords = _cosine(a, b)
    title = _title_similarity(a, b)
    overlap = _number_overlap(a, b)
    rewrite = 0.5 * keywords + 0.3 * title + 0.2 * (overlap if overlap is not None else keywords)
    score = max(copy, rewrite)
    # Same topic, different event: a figure in a headline that the other article never mentions.
    # One missing headline figure out of two is already decisive: "31省份新增本土2388例" vs "...1656例" share
    # the constant "31省" but not the count.
    score *= 1.0 - 0.7 * min(1.0, 2.0 * _title_number_conflict(a, b))
    if overlap is not None and overlap < 0.2:
        score *= 0.5 + 2.5 * overlap
    return max(0.0, min(1.0, score))


def same_story(
    a: StoryFingerprint, b: StoryFingerprint, *, hours_apart: float, threshold: float = SAME_STORY_THRESHOLD
) -> bool:
    """True when the two articles report the same event; never for articles listed over 72 hours apart.
    `threshold` (STORY_THRESHOLD) trades merges for splits: lower groups more, higher groups less."""
    if not (abs(hours_apart) <= MAX_HOURS_APART):  # NaN counts as too far apart
        return False
    return story_similarity(a, b) >= threshold
