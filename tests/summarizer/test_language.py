"""detect_language, and is_cjk_char as shared by language detection, sentence splitting and topic matching."""

import pytest

from summarizer import detect_language, split_sentences
from summarizer.language import is_cjk_char
from summarizer.matching import _topic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中国人造太阳运行时间突破千秒", "zh"),
        ("微软确认：测试版用户可在 Windows 11 上运行 Android 应用", "zh"),
        ("Microsoft confirms Android apps run on Windows 11 for testers 中文", "en"),
        ("The quick brown fox jumps over the lazy dog.", "en"),
        ("", "und"),
        ("12345 !!! 2021-12-31", "und"),
        ("Привет, как дела?", "und"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


# U+20BB7 (Extension B) and U+F900 (a CJK Compatibility Ideograph): Han characters that each of the three
# former private copies of the CJK check used to miss in at least one place.
@pytest.mark.parametrize("han", ["\U00020bb7", "\uf900"])
def test_language_sentences_and_matching_agree_on_chinese_characters(han: str) -> None:
    assert is_cjk_char(han)
    # language detection counts it as Chinese
    assert detect_language(han * 3) == "zh"
    # sentence splitting: an ASCII period between two Chinese characters ends the sentence
    assert split_sentences(f"他来了.{han}野家开门") == ["他来了.", f"{han}野家开门"]
    # topic matching: an all-Chinese topic of two or more characters may match inside a longer token
    assert _topic(f"{han}野")[2] is True


@pytest.mark.parametrize("ch", ["a", "é", "。", "，", "Ａ", "あ", "한", "䷀", "1", " "])
def test_punctuation_fullwidth_kana_and_symbols_are_not_cjk(ch: str) -> None:
    assert not is_cjk_char(ch)
