"""Topic matching on jieba tokens."""

from __future__ import annotations

from summarizer.matching import index_text, matches_topic


def matches(topic: str, text: str, tags: tuple[str, ...] = ()) -> bool:
    return matches_topic(topic, tags=tags, text=index_text(text))


def test_tags_match_ignoring_case_and_hash() -> None:
    assert matches("#Apple", "nothing here", ("apple",))


def test_words_match_as_tokens_not_as_characters() -> None:
    assert matches("华为", "华为发布新款芯片")
    assert not matches("中", "中国女足获得亚军")
    assert matches("chips", "Apple unveils new chips for laptops")
    assert not matches("chip", "Apple unveils new chips for laptops")
    assert matches("new chips", "Apple unveils new chips for laptops")


def test_chinese_topics_match_inside_compounds() -> None:
    assert matches("足球", "中国女足在东亚杯足球比赛中战平日本队")
    assert not matches("火星", "中国女足在东亚杯足球比赛中战平日本队")


def test_a_compound_match_never_spans_two_tokens() -> None:
    # 美国|的|女足: "国的" is in the text but inside no single token
    assert not matches("国的", "美国的女足获得亚军")
    assert matches("女足", "美国的女足获得亚军")
