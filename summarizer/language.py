"""Tell which language a text is in, as an ISO 639-1 code.

Holds `detect_language`: the script of the letters decides Chinese and Japanese (cheap, and right for
Chinese text full of English product names), and py3langid, a naive Bayes identifier whose model ships
inside the package, decides among the other languages. The model is read from the installed package the
first time it is needed, never at import (start-up time matters) and never from the network. Also holds
`is_cjk_char`, the one definition of "a Chinese character" that sentence splitting and topic matching
share with it.
"""

from __future__ import annotations

import threading
from typing import Protocol

__all__ = ["CANDIDATE_LANGUAGES", "MAX_CLASSIFIED_CHARS", "detect_language", "is_cjk_char"]

# A Chinese article quoting English names and product words is still Chinese: each CJK character
# carries far more text than a Latin letter, so a modest share is enough.
_ZH_MIN_SHARE = 0.2
_EN_MIN_SHARE = 0.5
# Japanese writes most grammar in kana; Chinese borrows a lone "の" now and then.
_JA_MIN_KANA = 2
_JA_MIN_KANA_SHARE = 0.15
# Below this many letters there is nothing to judge.
_MIN_LETTERS = 2
# Below this many letters the identifier guesses more than it knows (on the corpus feeds' titles cut to
# 8 characters it is right on barely half of them).
_MIN_IDENTIFIED_LETTERS = 10
# The identifier's probability (normalized over the candidates) under which its answer is not taken.
_MIN_CONFIDENCE = 0.3
# A language shows in its first lines; a bounded prefix keeps the cost of a long article bounded.
MAX_CLASSIFIED_CHARS = 2000

# The languages a news bot plausibly meets. Fewer candidates means fewer near neighbours to confuse with
# (on headlines alone, Portuguese was taken for Extremaduran and German for Luxembourgish among all 140).
CANDIDATE_LANGUAGES: tuple[str, ...] = (
    "zh", "en", "de", "fr", "es", "pt", "it", "nl", "pl", "sv",
    "tr", "id", "vi", "ru", "uk", "ar", "fa", "hi", "ja", "ko",
)  # fmt: skip


class _Identifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


_identifier: _Identifier | None = None
_identifier_lock = threading.Lock()


def _load_identifier() -> _Identifier:
    """The identifier, restricted to CANDIDATE_LANGUAGES; read from the package on the first call."""
    global _identifier
    if _identifier is not None:
        return _identifier
    with _identifier_lock:
        if _identifier is None:
            # imported here: importing py3langid pulls in numpy, and reading the model takes about half a
            # second, which `newsbot latest` should not pay
            from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

            # an identifier of our own rather than py3langid's module-wide one, so restricting its
            # languages cannot change anyone else's answers
            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(CANDIDATE_LANGUAGES))
            _identifier = identifier
        return _identifier


def is_cjk_char(ch: str) -> bool:
    """True when the single character `ch` is a CJK ideograph (a Han character).

    Covers CJK Unified Ideographs, Extension A, the Compatibility Ideographs and the ideographs of
    plane 2 (U+20000-U+2FA1F: Extensions B-F and I, the Compatibility Ideographs Supplement).
    Punctuation, fullwidth forms, kana, hangul and symbol blocks such as the Yijing hexagrams
    (U+4DC0-U+4DFF) are not ideographs and are not counted.
    """
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= code <= 0x4DBF  # Extension A
        or 0xF900 <= code <= 0xFAFF  # Compatibility Ideographs
        or 0x20000 <= code <= 0x2FA1F  # plane 2: Extensions B-F and I, Compatibility Supplement
    )


def _is_kana(ch: str) -> bool:
    # Hiragana and Katakana; the prolonged sound mark "ー" (U+30FC) is inside the Katakana block
    return "\u3041" <= ch <= "\u30ff" and ch not in "\u30fb"  # "・" is punctuation


def _is_latin(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("\u00c0" <= ch <= "\u024f" and ch.isalpha())


def detect_language(text: str) -> str:
    """Return the ISO 639-1 code of the language of `text` ("zh", "en", "de", "pt", "ja", ...) or "und".

    Only the first MAX_CLASSIFIED_CHARS characters are looked at. In order:
    - fewer than 2 letters (empty text, digits, punctuation): "und" (undetermined);
    - kana at least 15% of the letters (and at least 2 of them): "ja";
    - CJK ideographs at least 20% of the letters: "zh", whatever English words the text also has, and
      whether it is written in simplified or traditional characters (or is Cantonese: readers filter on
      one code for written Chinese, so the model's "yue" and "wuu" are not candidates);
    - otherwise py3langid decides among CANDIDATE_LANGUAGES;
    - when it cannot (fewer than 10 letters, or a probability under 0.3), the answer is the letters'
      script, as before this module had a model: "en" when Latin letters are the majority, else "und".
      English is the most common Latin-script language in the feeds, and code that asks "is it English?"
      (tag extraction, checking an LLM summary's language) keeps its old answer for short text.
    Never raises for any string.
    """
    prefix = text[:MAX_CLASSIFIED_CHARS]
    cjk = kana = latin = letters = 0
    for ch in prefix:
        if is_cjk_char(ch):
            cjk += 1
            letters += 1
        elif _is_kana(ch):
            kana += 1
            letters += 1
        elif _is_latin(ch):
            latin += 1
            letters += 1
        elif ch.isalpha():
            letters += 1
    if letters < _MIN_LETTERS:
        return "und"
    if kana >= _JA_MIN_KANA and kana / letters >= _JA_MIN_KANA_SHARE:
        return "ja"
    if cjk / letters >= _ZH_MIN_SHARE:
        return "zh"
    by_script = "en" if latin / letters >= _EN_MIN_SHARE else "und"
    if letters < _MIN_IDENTIFIED_LETTERS:
        return by_script
    language, confidence = _load_identifier().classify(prefix)
    if confidence < _MIN_CONFIDENCE:
        return by_script
    return str(language)
