"""detect_language: share of CJK vs Latin letters."""

import pytest

from summarizer import detect_language


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
