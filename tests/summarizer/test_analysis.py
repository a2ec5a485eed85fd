"""One jieba pass per article (summarizer.analysis): the words looked up in an analysis are exactly those of
cutting the text itself, and the summary, tags, story fingerprint and search terms are the same with the
analysis as without it, for every article of the shared corpus."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from bot.services.prepare import prepare_article
from bot.sources.files import parse_feed_or_post
from bot.sources.types import ParsedFeed, RawArticle, SourceError
from summarizer import analysis as analysis_module
from summarizer import analyze, extract_tags, split_sentences, summarize
from summarizer._jieba import cut, cut_for_search, pos_cut
from summarizer.analysis import Analysis
from summarizer.matching import search_terms
from summarizer.stories import fingerprint

CHINESE = "新华社北京12月30日电。今天天气很好！\n我们去公园散步？华为发布Mate 60 Pro，售价5999元。"
ENGLISH = "Mr. Smith went to Washington. He met the U.S. president on Jan. 5. It rained... Then it stopped!"
NO_PUNCTUATION = "今天天气很好我们去公园散步看见很多人在跑步"


@pytest.fixture
def jieba_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the analysis module hands to jieba from now on."""
    calls: list[str] = []
    real = analysis_module.cut_keep_spaces

    def counting(text: str) -> list[str]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(analysis_module, "cut_keep_spaces", counting)
    return calls


@pytest.mark.parametrize("text", [CHINESE, ENGLISH, NO_PUNCTUATION, "", "  \r\n\t ", "ＡＢＣ１２３：全角"])
def test_tokens_are_one_cut_with_their_offsets(text: str) -> None:
    found = analyze(text, title="华为发布 新机")
    assert [t.word for t in found.text_tokens] == cut(text)
    assert all(text[t.start : t.end] == t.word for t in found.text_tokens)
    assert [(t.word, t.flag) for t in found.text_tokens] == pos_cut(text)
    assert [t.word for t in found.title_tokens] == cut("华为发布 新机")
    assert all(found.title[t.start : t.end] == t.word for t in found.title_tokens)


@pytest.mark.parametrize("text", [CHINESE, ENGLISH, NO_PUNCTUATION])
def test_sentences_ending_outside_a_run_need_no_new_cut(text: str, jieba_calls: list[str]) -> None:
    # 。！？, line breaks and the space after an English full stop all end a jieba run: each sentence's words
    # are already in the cut of the whole text
    found = analyze(text)
    assert found.text_tokens
    assert len(jieba_calls) == 1
    for sentence in split_sentences(text):
        assert found.cut(sentence) == cut(sentence)
    assert len(jieba_calls) == 1


def test_a_sentence_split_inside_a_run_is_cut_alone(jieba_calls: list[str]) -> None:
    # "版本.然后" is one jieba run in the whole text, split in two by the sentence splitter
    text = "微软发布了新版本.然后开始推送更新。"
    found = analyze(text)
    assert found.cut(text) == cut(text)
    first, second = split_sentences(text)
    assert (first, second) == ("微软发布了新版本.", "然后开始推送更新。")
    assert found.cut(first) == cut(first)
    assert found.cut(second) == cut(second)
    # the two pieces of the run "新版本.然后开始推送更新" are new: each went to jieba alone
    assert jieba_calls == ["微软发布了新版本.然后开始推送更新", "微软发布了新版本.", "然后开始推送更新"]


def test_each_run_is_cut_once_and_new_runs_together(jieba_calls: list[str]) -> None:
    found = analyze(CHINESE, title="华为发布新机")
    assert jieba_calls == []  # nothing is cut before it is needed
    sentences = split_sentences(CHINESE)
    assert found.cut_each(sentences) == [cut(sentence) for sentence in sentences]
    assert len(jieba_calls) == 1
    assert found.cut(CHINESE) == cut(CHINESE)
    assert found.pos_cut(CHINESE) == pos_cut(CHINESE)
    assert len(jieba_calls) == 1


def test_any_text_is_cut_exactly_whatever_was_analysed() -> None:
    found = analyze(CHINESE, title="华为")
    for text in (CHINESE.lower(), ENGLISH, NO_PUNCTUATION, CHINESE[:17], "访问www.example.com获取华为新机"):
        assert found.cut(text) == cut(text)
        assert found.pos_cut(text) == pos_cut(text)
        assert found.cut_for_search(text) == cut_for_search(text)


def _corpus_articles(corpus: Path) -> list[RawArticle]:
    """Every post and feed entry of the shared corpus, parsed as `prepare_file` parses them."""
    articles: list[RawArticle] = []
    paths = sorted((corpus / "articles").glob("*.md")) + sorted((corpus / "feeds").iterdir())
    for path in paths:
        try:
            document = parse_feed_or_post(
                path.read_bytes(), origin=path.name, suffix=path.suffix, default_tz=UTC
            )
        except SourceError:
            continue  # an HTML page among the feeds: `prepare_file` reports it as a failure
        articles.extend(document.entries if isinstance(document, ParsedFeed) else [document])
    return articles


def _outputs(title: str, text: str, found: Analysis | None) -> tuple[object, ...]:
    summaries = [summarize(text, title=title, max_chars=n, analysis=found).text for n in (150, 60, 30)]
    tags = extract_tags(text, title=title, analysis=found)
    return (
        summaries,
        tags,
        fingerprint(title, text, analysis=found),
        search_terms(title, summaries[0], tags, analysis=found),
    )


def test_corpus_results_are_the_same_with_the_analysis(corpus: Path) -> None:
    articles = _corpus_articles(corpus)
    assert len(articles) > 54  # the posts and the feeds' entries
    for raw in articles:
        prepared = prepare_article(raw, max_chars=150)  # its cleaned title and text
        title, text = prepared.title, prepared.text
        shared = analyze(text, title=title)
        assert _outputs(title, text, shared) == _outputs(title, text, None), raw.origin
        for sentence in split_sentences(text):
            assert shared.cut(sentence) == cut(sentence), sentence
            assert shared.cut_for_search(sentence) == cut_for_search(sentence), sentence


def test_a_run_longer_than_any_sentence_is_cut_in_pieces() -> None:
    """jieba's HMM is quadratic in a run it has no words for (60,000 characters: minutes); such a run is
    handed to jieba in pieces of MAX_RUN characters. Everything else is cut as jieba cuts it."""
    from summarizer._jieba import MAX_RUN, _pieces, cut_keep_spaces

    long_run = "中" * (2 * MAX_RUN + 10)
    text = "标题 " + long_run + "。新闻正文 " + "短" * 10
    pieces = list(_pieces(text))
    assert "".join(pieces) == text
    assert [len(p) for p in pieces] == [3 + MAX_RUN, MAX_RUN, 10 + len("。新闻正文 ") + 10]
    assert "".join(cut_keep_spaces(text)) == text
    # runs up to MAX_RUN are never split, however long the text
    short_runs = "中国人造太阳运行时间突破千秒。" * 200
    assert list(_pieces(short_runs)) == [short_runs]
    assert list(_pieces("a" * MAX_RUN)) == ["a" * MAX_RUN]
    import jieba

    assert cut_keep_spaces(short_runs) == jieba.lcut(short_runs)
