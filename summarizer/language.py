"""Guess whether a text is Chinese or English from its letters.

Holds `detect_language`, a character count with no library and no model, so the answer is cheap
and always the same for the same text; it must not try to tell other languages apart. Also holds
`is_cjk_char`, the one definition of "a Chinese character" that sentence splitting and topic
matching share with it.
"""

from __future__ import annotations

__all__ = ["detect_language", "is_cjk_char"]

# A Chinese article quoting English names and product words is still Chinese: each CJK character
# carries far more text than a Latin letter, so a modest share is enough.
_ZH_MIN_SHARE = 0.2
_EN_MIN_SHARE = 0.5
# Below this many letters there is nothing to judge.
_MIN_LETTERS = 2


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


def _is_latin(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("\u00c0" <= ch <= "\u024f" and ch.isalpha())


def detect_language(text: str) -> str:
    """Return "zh", "en" or "und" (undetermined) for `text`.

    "zh" when CJK characters are at least 20% of the letters, "en" when Latin letters are the
    majority, otherwise "und" (digits, punctuation, other scripts, or too little text).
    """
    cjk = latin = letters = 0
    for ch in text:
        if is_cjk_char(ch):
            cjk += 1
            letters += 1
        elif _is_latin(ch):
            latin += 1
            letters += 1
        elif ch.isalpha():
            letters += 1
    if letters < _MIN_LETTERS:
        return "und"
    if cjk / letters >= _ZH_MIN_SHARE:
        return "zh"
    if latin / letters >= _EN_MIN_SHARE:
        return "en"
    return "und"
