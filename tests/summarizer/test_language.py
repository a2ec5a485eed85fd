"""detect_language on the corpus feeds and posts, on short and hostile input, and how it loads its model; and
is_cjk_char as shared by language detection, sentence splitting and topic matching."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from benchmarks.reader_language import (
    ENTRY_EXCEPTIONS,
    FEED_LANGUAGES,
    FEEDS,
    LabelledText,
    feed_entries,
    post_texts,
)
from bot.sources.feeds import FeedParseError, parse_feed
from summarizer import detect_language, split_sentences
from summarizer.language import CANDIDATE_LANGUAGES, MAX_CLASSIFIED_CHARS, is_cjk_char
from summarizer.matching import _topic

REPO_ROOT = Path(__file__).resolve().parents[2]
LABELLED_FEEDS = sorted(name for name, language in FEED_LANGUAGES.items() if language is not None)
NOT_FEEDS = sorted(name for name, language in FEED_LANGUAGES.items() if language is None)


@pytest.fixture(scope="module")
def entries() -> list[LabelledText]:
    if not FEEDS.is_dir():
        pytest.skip(f"the shared corpus is not at {FEEDS.parent} (../shared/corpus beside the checkout)")
    return feed_entries()


def test_every_corpus_feed_file_has_a_language() -> None:
    if not FEEDS.is_dir():
        pytest.skip(f"the shared corpus is not at {FEEDS.parent}")
    assert sorted(p.name for p in FEEDS.iterdir()) == sorted(FEED_LANGUAGES)


@pytest.mark.parametrize("feed", LABELLED_FEEDS)
def test_feed_entries_are_identified_in_their_feeds_language(entries: list[LabelledText], feed: str) -> None:
    language = FEED_LANGUAGES[feed]
    mine = [e for e in entries if e.source == feed and (feed, e.title) not in ENTRY_EXCEPTIONS]
    assert mine, f"{feed}: no entries parsed"
    wrong = [(e.title, detect_language(e.text)) for e in mine if detect_language(e.text) != language]
    assert wrong == [], f"{feed} is {language}"


@pytest.mark.parametrize(("feed", "title"), sorted(ENTRY_EXCEPTIONS))
def test_entries_in_another_language_are_not_given_their_feeds(
    entries: list[LabelledText], feed: str, title: str
) -> None:
    (entry,) = [e for e in entries if e.source == feed and e.title == title]
    assert detect_language(entry.text) != FEED_LANGUAGES[feed]


@pytest.mark.parametrize("feed", NOT_FEEDS)
def test_files_without_a_language_are_not_feeds(feed: str) -> None:
    if not FEEDS.is_dir():
        pytest.skip(f"the shared corpus is not at {FEEDS.parent}")
    path = FEEDS / feed
    with pytest.raises(FeedParseError, match="HTML page"):
        parse_feed(path.read_bytes(), origin=str(path), default_tz=UTC)


def test_corpus_posts_are_chinese(corpus: Path) -> None:
    posts = post_texts(corpus / "articles")
    assert len(posts) == 54
    assert [p.source for p in posts if detect_language(p.text) != "zh"] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中国人造太阳运行时间突破千秒", "zh"),
        ("微软确认：测试版用户可在 Windows 11 上运行 Android 应用", "zh"),
        ("臺灣中央氣象署表示，明天北部地區將有陣雨。", "zh"),  # traditional characters
        ("佢哋今日喺度開會，講咗好多嘢。", "zh"),  # written Cantonese
        ("小清新の生活方式，年轻人都喜欢", "zh"),  # one borrowed kana does not make it Japanese
        ("東京都は新たに感染者を確認したと発表しました。", "ja"),
        ("Microsoft confirms Android apps run on Windows 11 for testers 中文", "en"),
        ("The quick brown fox jumps over the lazy dog.", "en"),
        ("Die Bundesregierung hat am Mittwoch den Haushaltsentwurf beschlossen.", "de"),
        ("O Governo português pede respeito pelo direito à manifestação no Irão.", "pt"),
        ("Le gouvernement a présenté mercredi son projet de budget pour l'année prochaine.", "fr"),
        ("El Gobierno aprobó este martes el proyecto de presupuestos generales.", "es"),
        ("Правительство утвердило проект бюджета на следующий год.", "ru"),
        ("정부는 내년도 예산안을 국무회의에서 의결했다고 밝혔다.", "ko"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


# The documented answers where the model is not asked: too few letters go by script alone.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "und"),
        ("   \n\t", "und"),
        ("a", "und"),
        ("12345 !!! 2021-12-31", "und"),
        ("中文", "zh"),
        ("こんにちは", "ja"),
        ("OK Google", "en"),  # fewer than 10 letters of Latin script
        ("Olá, tudo", "en"),  # Portuguese, but too short to tell: the script's answer
        ("Привет", "und"),  # too short, and not Latin
    ],
)
def test_short_and_empty_text_get_the_documented_answer(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02\x1b[31m\x7f\u202e\u200b" * 50,
        "0123456789 " * 300,
        "https://example.com/a/b?c=d&e=f http://foo.org/x.html www.bar.net/index.php " * 20,
        "\ud800\udfff lone surrogates \udc80",
        "\ufffd" * 100 + "ÐÅÏ¢½»»»ÓÃºº×Ö±àÂë",
        "🙂🚀🔥" * 100,
        "a" * 100_000,
    ],
)
def test_garbage_gets_a_code_and_never_raises(text: str) -> None:
    assert detect_language(text) in {"und", *CANDIDATE_LANGUAGES}


def test_digits_only_are_undetermined() -> None:
    assert detect_language("0123456789 " * 300) == "und"


def test_only_a_bounded_prefix_is_classified() -> None:
    german = "Die nun verfügbare Version des Anwendungsservers unterstützt Java EE 7 vollständig. "
    head = (german * (MAX_CLASSIFIED_CHARS // len(german) + 1))[:MAX_CLASSIFIED_CHARS]
    # what follows the prefix, however much of it, does not change the answer
    assert detect_language(head + "中国人造太阳运行时间突破千秒。" * 5_000) == "de"


# Run in a fresh interpreter: this one has long loaded the model. The audit hook refuses any socket or URL
# opened from the import on, so a model fetched from the network would fail the call.
_FRESH = """
import sys

def no_network(event, args):
    if event.startswith(("socket.", "urllib.")):
        raise RuntimeError(f"network use: {event} {args!r}")

sys.addaudithook(no_network)
import summarizer
print("py3langid" in sys.modules)
print(summarizer.detect_language("Die nun verfügbare Version des Anwendungsservers unterstützt Java EE 7."))
print("py3langid" in sys.modules)
"""


def test_the_model_loads_on_first_use_from_the_package_without_network() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FRESH], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded_at_import, answer, loaded_after_call = done.stdout.split()
    assert loaded_at_import == "False"
    assert answer == "de"
    assert loaded_after_call == "True"


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
