"""Pick a handful of topic tags for an article: words a reader would tap.

Holds `extract_tags`: TF-IDF over jieba tokens filtered by part of speech, with the title counted
extra, book/film titles in 《》 kept whole, numbers and news boilerplate removed. Latin-script text
(English, German, Portuguese...) gets a word-frequency path in which a run of capitalised words
("State of the Union", "Bank of England") is one name and a possessive "'s" is dropped ("Trump's" ->
"Trump"). Never a tag: function words of any of our languages, contractions ("wasn't"), parts of web
addresses found in the text ("dapenti" from "http://dapenti.com"), units, generic words (see
`summarizer.stopwords`). Pure and deterministic: ties are broken by first position, never by set or
dict iteration order of anything unordered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from summarizer._jieba import english_stopwords, idf_table, news_stopwords, pos_cut
from summarizer.analysis import Analysis
from summarizer.language import is_cjk_char
from summarizer.stopwords import FUNCTION_WORDS, GENERIC_LATIN, GENERIC_ZH, NAME_CONNECTORS, UNITS, URL_PARTS

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
_HAS_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f\u3400-\u9fff]")
_CJK = re.compile(r"[\u3400-\u9fff]")

# Web and mail addresses, with or without a scheme: their pieces ("com", the site's own name) are
# not words of the article, so the addresses are taken out of the text before anything is counted.
# Parts are bounded as in DNS and mail (labels of 63, a local part of 64): unbounded, every position of a
# long run without "@" or "." (50,000 CJK characters, "a.a.a...") was scanned to its end, quadratic time.
_ADDRESS = re.compile(
    r"(?:https?|ftp)://[^\s<>\"'，。、）)]+"
    r"|\bwww\.[^\s<>\"'，。、）)]+"
    r"|[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}"
    r"|\b[a-z0-9][a-z0-9-]{0,62}(?:\.[a-z0-9-]{1,63}){0,8}\.(?:com|net|org|cn|gov|edu|io|info|me|tv|cc|co|uk|de|fr|br|pt|jp|hk|tw)\b"
    r"(?:/[^\s<>\"'，。、）)]*)?",
    re.IGNORECASE,
)
# A Latin-script word: letters with accents, digits after the first letter, inner apostrophes and hyphens
# ("França", "Jong-un", "K30", "Trump's"). Accented letters matter: ASCII only cut "França" to "Fran".
_L = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_LATIN_LETTER = re.compile(f"[{_L}]")
_LATIN_WORD = re.compile(rf"[{_L}][{_L}0-9]*(?:['’\-][{_L}0-9]+)*")
_POSSESSIVE = re.compile(r"['’][sS]$")
_ELISION = re.compile(r"^(?:[lLdD]|qu)['’](?=[A-ZÀ-Ö])")  # French l'Europe, d'Artagnan
# Between two words of one name there is exactly one space (or " & ").
_NAME_GAP = re.compile(r"^(?: | & )$")
# Capitalised after one of these (or at the start) because a sentence or headline part starts there.
_SENTENCE_BREAK = re.compile(r"[.!?:;\n–—|\"“”]")
# Most words a capitalised run may have before it is a Title Case headline rather than a name.
_MAX_NAME_WORDS = 4
# "New" opens headlines ("New Windows update") but also these names.
_GERMAN_MARKERS = frozenset(
    {"der", "die", "das", "und", "ist", "nicht", "mit", "für", "auf", "dem", "ein", "eine", "sich"}
)
_ENGLISH_MARKERS = frozenset(
    {"the", "and", "is", "of", "to", "with", "for", "on", "that", "this", "are", "was"}
)
_NEW_NAMES = frozenset(
    {"york", "zealand", "delhi", "jersey", "mexico", "orleans", "hampshire", "guinea", "caledonia"}
)


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


@dataclass(frozen=True)
class _Word:
    """One Latin-script word as written, with what decides whether it belongs to a name."""

    text: str  # possessive and elision removed
    start: int
    end: int
    sentence_start: bool
    possessive: bool
    contraction: bool

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper()

    @property
    def lower(self) -> str:
        return self.text.lower()


def _mostly_latin(text: str) -> bool:
    """Latin letters are most of the letters and Chinese characters under a fifth: the word path, not jieba.

    Decided by script alone, whatever language the letters spell: English, German and Portuguese all
    take the word path, and a Chinese article quoting English names stays with jieba.
    """
    cjk = latin = letters = 0
    for ch in text:
        if is_cjk_char(ch):
            cjk += 1
        elif _LATIN_LETTER.match(ch):
            latin += 1
        elif not ch.isalpha():
            continue
        letters += 1
    return letters > 0 and cjk < 0.2 * letters and latin > 0.5 * letters


def _without_addresses(text: str) -> str:
    return _ADDRESS.sub(" ", text)


def _never_a_tag(word: str) -> bool:
    """Words no article is about: function words, address parts, units, generic words.

    An acronym in capitals is a name whatever its letters spell in lower case: "OS", "US", "PHP", "HTML"
    (addresses are gone from the text before this), but "TOP" and "APP" stay generic.
    """
    lower = word.lower().replace("’", "'")
    if lower in GENERIC_LATIN or lower in GENERIC_ZH or lower in UNITS or lower in news_stopwords():
        return True
    if len(word) >= 2 and word.isupper():
        return False
    return lower in FUNCTION_WORDS or lower in URL_PARTS or lower in english_stopwords()


def _is_usable(word: str) -> bool:
    if not _HAS_LETTER.search(word) or _NUMERIC.match(word):
        return False
    if _never_a_tag(word):
        return False
    if word.isascii() and not _latin_word_usable(word):
        return False
    return len(word) >= 2


def _latin_word_usable(word: str) -> bool:
    """A single Latin-script word as a tag: two letters only as an acronym ("EU", "AI"), no contraction."""
    if len(word) < 2 or (len(word) == 2 and not word[0].isupper()):
        return False
    if re.search(r"['’][a-z]", word):  # "rock'n'roll", a contraction the lists do not hold
        return False
    return not _never_a_tag(word)


def _add(
    found: dict[str, _Candidate], word: str, pos: int, weight: float, *, entity: bool, fallback: bool
) -> _Candidate:
    key = word.lower()
    cand = found.get(key)
    if cand is None:
        cand = found[key] = _Candidate(text=word, first=pos)
    cand.count += weight
    cand.entity = cand.entity or entity
    cand.fallback = cand.fallback and fallback
    cand.forms[word] = cand.forms.get(word, 0) + 1
    return cand


# --- Latin-script words and names ----------------------------------------------------------------------


def _latin_words(text: str) -> list[_Word]:
    words: list[_Word] = []
    previous_end = 0
    for m in _LATIN_WORD.finditer(text):
        raw = _ELISION.sub("", m.group(0))
        gap = text[previous_end : m.start()]
        starts = not words or bool(_SENTENCE_BREAK.search(gap))
        normal = raw.lower().replace("’", "'")
        possessive = bool(_POSSESSIVE.search(raw)) and normal not in FUNCTION_WORDS
        contraction = normal in FUNCTION_WORDS and ("'" in normal)
        shown = _POSSESSIVE.sub("", raw) if possessive else raw
        words.append(_Word(shown, m.start(), m.end(), starts, possessive, contraction))
        previous_end = m.end()
    return words


def _raw_runs(
    text: str, words: list[_Word], connectors: frozenset[str] = NAME_CONNECTORS
) -> list[list[_Word]]:
    """Words grouped into capitalised runs (connectors allowed inside); every other word is a run of one."""
    runs: list[list[_Word]] = []
    current: list[_Word] = []
    for w in words:
        joins = (
            current
            and not current[-1].possessive
            and not current[-1].contraction
            and not w.contraction
            and not w.sentence_start
            and _NAME_GAP.match(text[current[-1].end : w.start])
            and (w.capitalised or w.lower in connectors)
            and (current[-1].capitalised or current[-1].lower in connectors)
        )
        if joins:
            current.append(w)
            continue
        if current:
            runs.append(current)
        current = [w]
    if current:
        runs.append(current)
    # a run never ends on a connector: "Bank of" + "england" is "Bank" and two loose words
    split: list[list[_Word]] = []
    for run in runs:
        while len(run) > 1 and not run[-1].capitalised:
            split.append(run[:-1])
            run = [run[-1]]
        split.append(run)
    return split


@dataclass(frozen=True)
class _Evidence:
    """What the whole article (title and body) says about its capitalised words."""

    lower_seen: frozenset[str]  # written in lower case somewhere: a common word
    alone: frozenset[str]  # a capitalised word standing alone mid-sentence: a name of its own
    phrases: frozenset[str]  # every capitalised run as written
    connectors: frozenset[str]  # what may join the words of a name in this article's language

    @classmethod
    def of(cls, title: str, text: str) -> _Evidence:
        document = f"{title}\n{text}"
        words = _latin_words(document)
        lowered = [w.lower for w in words]
        # German capitalises every noun: "Sortieren von GPX-Dateien" is no name, so in German text only
        # adjacent capitalised words make one ("Visual Studio Code").
        german = sum(w in _GERMAN_MARKERS for w in lowered) > sum(w in _ENGLISH_MARKERS for w in lowered)
        connectors = frozenset({"&"}) if german else NAME_CONNECTORS
        runs = _raw_runs(document, words, connectors)
        return cls(
            lower_seen=frozenset(w.lower for w in words if not w.capitalised),
            alone=frozenset(
                r[0].text for r in runs if len(r) == 1 and r[0].capitalised and not r[0].sentence_start
            ),
            phrases=frozenset(_name_text(document, r) for r in runs),
            connectors=connectors,
        )


def _name_text(text: str, run: list[_Word]) -> str:
    """The run as written, without the possessive of its last word: "Donald Trump's" -> "Donald Trump"."""
    return text[run[0].start : run[-1].start] + run[-1].text


def _name_runs(text: str, words: list[_Word], evidence: _Evidence, title_case: bool) -> list[list[_Word]]:
    """Runs resolved into names: leading articles and sentence-start common words peeled off, coordinations
    ("Trump and Clinton") split unless the whole phrase recurs, Title Case stretches cut into words."""
    resolved: list[list[_Word]] = []
    for run in _raw_runs(text, words, evidence.connectors):
        pending = [run]
        while pending:
            part = pending.pop(0)
            if len(part) == 1:
                resolved.append(part)
                continue
            head = part[0]
            peel = head.lower in FUNCTION_WORDS or head.lower in NAME_CONNECTORS
            if head.sentence_start and not peel:
                rest = part[1:]
                while rest and not rest[0].capitalised:
                    rest = rest[1:]
                generic_head = head.lower in GENERIC_LATIN and not (
                    head.lower == "new" and part[1].lower in _NEW_NAMES
                )
                # "Trump State of the Union address...": the headline's first word is its own name when the
                # article names the rest on its own; "Director of CDC": a common word capitalised to start.
                peel = (
                    generic_head
                    or head.lower in evidence.lower_seen
                    or head.text in evidence.alone
                    or (bool(rest) and _name_text(text, rest) in evidence.phrases)
                )
            if peel:
                resolved.append([head])
                rest = part[1:]
                while rest and not rest[0].capitalised:
                    resolved.append([rest.pop(0)])
                if rest:
                    pending.insert(0, rest)
                continue
            phrase = text[part[0].start : part[-1].end]
            cut = next((i for i, w in enumerate(part) if w.lower == "and"), None)
            if cut is not None and text.count(phrase) < 2:
                pending[:0] = [part[:cut], [part[cut]], part[cut + 1 :]]
                continue
            named = [w for w in part if w.capitalised]
            if title_case or len(named) > _MAX_NAME_WORDS:
                resolved.extend([w] for w in part)
                continue
            resolved.append(part)
    return resolved


def _is_title_case(words: list[_Word]) -> bool:
    """ "How The Eagles Became The NFL's Wokest Team": capitals carry no information about names."""
    content = [w for w in words if w.lower not in NAME_CONNECTORS]
    return len(content) >= 4 and sum(w.capitalised for w in content) >= 0.8 * len(content)


def _collect_latin_names(text: str, weight: float, found: dict[str, _Candidate], offset: int) -> str:
    """Multi-word Latin names inside Chinese text ("Microsoft Edge", "Clarissa Ward"), added as one tag each;
    returns the text with them taken out so that jieba does not count their words again."""
    words = _latin_words(text)
    pieces: list[str] = []
    last = 0
    for run in _raw_runs(text, words):
        named = [w for w in run if w.capitalised]
        if len(named) < 2 or len(named) > _MAX_NAME_WORDS:
            continue
        name = _name_text(text, run)
        if not all(_latin_word_usable(w.text) or w.lower in NAME_CONNECTORS or len(w.text) <= 2 for w in run):
            continue
        cand = _add(found, name, offset + run[0].start, weight, entity=True, fallback=False)
        cand.idf = max(cand.idf, idf_table()[1])
        pieces.append(text[last : run[0].start])
        pieces.append("，")
        last = run[-1].end
    pieces.append(text[last:])
    return "".join(pieces)


def _collect_latin(
    text: str,
    weight: float,
    found: dict[str, _Candidate],
    offset: int,
    *,
    evidence: _Evidence,
    title_case: bool,
    context: str,
) -> None:
    words = _latin_words(text)
    for i, run in enumerate(_name_runs(text, words, evidence, title_case)):
        if len(run) > 1:
            name = _name_text(text, run)
            if title_case and name not in context:
                continue  # a Title Case title's runs count only when the body writes them the same way
            _add(found, name, offset + i, weight, entity=True, fallback=False).idf = 1.0
            continue
        w = run[0]
        if w.contraction or _NUMERIC.match(w.text) or not _latin_word_usable(w.text):
            continue
        if len(w.text) == 2 and w.sentence_start and not w.text.isupper():
            continue  # "Go", "So": capitalised only because a sentence starts there
        # A capitalized word in mid-sentence is a name; `_display` keeps the capitals when the word is
        # never seen in lower case.
        named = w.capitalised and not w.sentence_start and not title_case
        _add(found, w.text, offset + i, weight, entity=named, fallback=False).idf = 1.0


# --- Chinese ---------------------------------------------------------------------------------------------


def _collect_chinese(
    text: str,
    weight: float,
    found: dict[str, _Candidate],
    offset: int,
    tagged_words: Callable[[str], list[tuple[str, str]]],
) -> None:
    idf, median = idf_table()
    pos = offset
    # Titles in 《》 are one tag; cutting them would give "流浪" and "地球".
    for m in _BOOK_TITLE.finditer(text):
        title = m.group(1).strip()
        if _is_usable(title):
            _add(found, title, offset + m.start(), weight, entity=True, fallback=False)
            found[title.lower()].idf = max(found[title.lower()].idf, median * 1.2)
    text = _BOOK_TITLE.sub("，", text)
    text = _collect_latin_names(text, weight, found, offset)
    for word, flag in tagged_words(text):
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


def _display(cand: _Candidate) -> str:
    forms = sorted(cand.forms.items(), key=lambda kv: -kv[1])  # stable: ties keep first-seen order
    if not forms:
        return cand.text
    one_latin_word = all(" " not in form and not _CJK.search(form) for form, _ in forms)
    if one_latin_word and any(form.islower() for form, _ in forms):
        return forms[0][0].lower()  # a common word, capitalized only at sentence starts
    return forms[0][0]  # "Excel" over "excel"; Chinese words have one form


def _contains_word(longer: str, shorter: str) -> bool:
    """`shorter` is a whole word (or words) of the Latin-script name `longer`: "trump" in "donald trump"."""
    return f" {shorter} " in f" {longer} "


def extract_tags(
    text: str, *, title: str = "", max_tags: int = 6, min_tags: int = 3, analysis: Analysis | None = None
) -> list[str]:
    """Return up to `max_tags` tags, best first; at least `min_tags` when the text has enough words.

    No tag is a substring (case-insensitive) of a better-ranked one, nor a word of one. `analysis`, the
    article's `analyze(text, title=title)`, spares cutting its text again; the tags are the same without it.
    """
    if max_tags <= 0:
        return []
    found: dict[str, _Candidate] = {}
    title = _without_addresses(title)
    text = _without_addresses(text)
    if _mostly_latin(f"{title}\n{text}"):
        evidence = _Evidence.of(title, text)
        title_case = _is_title_case(_latin_words(title))
        _collect_latin(title, _TITLE_WEIGHT, found, 0, evidence=evidence, title_case=title_case, context=text)
        _collect_latin(text, 1.0, found, 1_000_000, evidence=evidence, title_case=False, context=title)
    else:
        tagged_words = analysis.pos_cut if analysis else pos_cut
        _collect_chinese(title, _TITLE_WEIGHT, found, 0, tagged_words)
        _collect_chinese(text, 1.0, found, 1_000_000, tagged_words)

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
            # "Donald Trump" after "Trump": the same person.
            if any(_contains_word(low, t) for t in lowered):
                continue
            tags.append(shown)
            lowered.append(low)

    take(strict, max_tags)
    if len(tags) < min(min_tags, max_tags):
        take(loose, min(min_tags, max_tags))
    return tags
