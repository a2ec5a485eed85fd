"""Literal topic matching on jieba tokens: does a topic word occur in an item's tags, title or summary?

A topic matches a tag when they are equal ignoring case, and matches text when its tokens occur as a contiguous
run of the text's tokens (so 华为 matches "华为发布新机" but 中 does not match every "中国"). jieba keeps some
compounds whole (足球比赛), so a Chinese topic of two or more characters also matches inside a longer token.
No regular expressions from users ever reach this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from summarizer._jieba import cut, cut_for_search


def tokens(text: str) -> list[str]:
    """Lower-cased jieba tokens without white space."""
    return [token.casefold() for token in cut(text)]


def contains_tokens(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    if not needle:
        return False
    first, size = needle[0], len(needle)
    return any(
        haystack[i] == first and list(haystack[i : i + size]) == list(needle)
        for i in range(len(haystack) - size + 1)
    )


def _is_cjk(text: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


def matches_topic(topic: str, *, tags: Iterable[str], text_tokens: Sequence[str]) -> bool:
    key = topic.strip().lstrip("#").casefold()
    if not key:
        return False
    if any(tag.casefold() == key for tag in tags):
        return True
    if contains_tokens(text_tokens, tokens(key)):
        return True
    return len(key) >= 2 and _is_cjk(key) and any(key in token for token in text_tokens if len(token) > len(key))


def _searchable(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


def search_terms(title: str, summary: str, tags: Iterable[str]) -> str:
    """What an article is found by: the search-mode tokens of its title, summary and tags, lower-cased, once
    each, space-separated (full-text indexes split on the spaces)."""
    seen: dict[str, None] = {}
    for part in (title, summary, *tags):
        for token in cut_for_search(part):
            token = token.casefold()
            if _searchable(token):
                seen.setdefault(token, None)
    return " ".join(seen)


def query_words(query: str) -> list[list[str]]:
    """A search query as words, each as its tokens; every word must match."""
    words = []
    for word in query.split():
        word_tokens = [t for t in tokens(word) if _searchable(t)]
        if word_tokens:
            words.append(word_tokens)
    return words
