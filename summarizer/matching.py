"""Literal topic matching on jieba tokens: does a topic word occur in an item's tags, title or summary?

A topic matches a tag when they are equal ignoring case, and matches text when its tokens occur as a
contiguous run of the text's tokens (so 华为 matches "华为发布新机" but 中 does not match every "中国"). jieba
keeps some compounds whole (足球比赛), so a Chinese topic of two or more characters also matches inside a
longer token. No regular expressions from users ever reach this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from summarizer._jieba import cut, cut_for_search
from summarizer.analysis import Analysis
from summarizer.language import is_cjk_char


def tokens(text: str) -> list[str]:
    """Lower-cased jieba tokens without white space."""
    return [token.casefold() for token in cut(text)]


@dataclass(frozen=True, slots=True)
class IndexedText:
    """A text's tokens, prepared once for matching many topics against it."""

    tokens: tuple[str, ...]
    token_set: frozenset[str]
    # tokens joined by a separator no token contains: a substring search here never crosses two tokens
    blob: str


def index_text(text: str) -> IndexedText:
    found = tuple(tokens(text))
    return IndexedText(found, frozenset(found), "\x00".join(found))


def contains_tokens(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    if not needle:
        return False
    first, size = needle[0], len(needle)
    return any(
        haystack[i] == first and list(haystack[i : i + size]) == list(needle)
        for i in range(len(haystack) - size + 1)
    )


@lru_cache(maxsize=10_000)
def _topic(topic: str) -> tuple[str, tuple[str, ...], bool]:
    """(key, its tokens, whether it may match inside a longer token): topics repeat across chats and items."""
    key = topic.strip().lstrip("#").casefold()
    return key, tuple(tokens(key)), len(key) >= 2 and all(is_cjk_char(ch) for ch in key)


def matches_topic(topic: str, *, tags: Iterable[str], text: IndexedText) -> bool:
    key, key_tokens, inside = _topic(topic)
    if not key:
        return False
    if any(tag.casefold() == key for tag in tags):
        return True
    if len(key_tokens) == 1:
        if key_tokens[0] in text.token_set:
            return True
    elif contains_tokens(text.tokens, key_tokens):
        return True
    return inside and key in text.blob


def _searchable(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


def search_terms(title: str, summary: str, tags: Iterable[str], *, analysis: Analysis | None = None) -> str:
    """What an article is found by: the search-mode tokens of its title, summary and tags, lower-cased, once
    each, space-separated (full-text indexes split on the spaces). `analysis`, the article's `analyze(...)`,
    spares cutting its title and sentences again; the terms are the same without it."""
    # one cut for all the parts: a line break ends a jieba run, so each part is cut as if alone
    parts = "\n".join((title, summary, *tags))
    seen: dict[str, None] = {}
    for token in analysis.cut_for_search(parts) if analysis else cut_for_search(parts):
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
