"""One jieba pass per article: `analyze` cuts an article's body and title once, and the summarizer, the
tagger, the story fingerprint and the search terms take their words from it instead of cutting them again.

Why the words of a sentence can come from a cut of the whole body: jieba cuts a text run by run. A run is a
stretch of CJK characters, ASCII letters, digits and "+#&._%-" (`run_pattern`); jieba cuts each run without
looking past it, and every other character is a token of its own. So the words of any text are the words of
its runs, in order, with the characters between them, and a run cut once cuts the same way again.

`Analysis.cut(text)` looks up each run of `text` among the runs of the article, whatever `text` is: a
sentence, the title with its spaces collapsed, the body with its web addresses blanked out. Only runs not met
before are cut, together in one jieba call: a sentence split at an ASCII "." between two Chinese characters
("版本.然后"), a lead cut off at 300 characters, lower-cased words. Its words are always exactly those of
`summarizer._jieba.cut(text)`; an analysis of some other article would only make it slower.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from summarizer._jieba import cut_keep_spaces, pos_tag, run_pattern, search_words

__all__ = ["Analysis", "Token", "analyze"]


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a cut and where it stands in the text cut: `text[start:end] == word`."""

    word: str
    start: int
    end: int

    @property
    def flag(self) -> str:
        """Its part of speech (n, nr, ns, v, eng...), as `summarizer._jieba.pos_cut` tags it."""
        return pos_tag([self.word])[0][1]


@dataclass(frozen=True, eq=False)
class Analysis:
    """An article's body and title, whose runs are each cut once whatever text they are asked for in.
    Made by `analyze`.

    Runs are cut when first asked for and remembered (`_runs`): what is cut depends on what the callers
    ask, never the words they get. So a long English body is never cut whole (the tagger reads Latin text
    without jieba, the summarizer only its opening sentences); a Chinese one is, once, for the tagger.
    """

    text: str
    title: str
    _runs: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def text_tokens(self) -> tuple[Token, ...]:
        """The body's words with their offsets, white space left out."""
        return tuple(Token(word, start, start + len(word)) for word, start in self._words(self.text))

    @cached_property
    def title_tokens(self) -> tuple[Token, ...]:
        """The title's words with their offsets, white space left out."""
        return tuple(Token(word, start, start + len(word)) for word, start in self._words(self.title))

    def cut(self, text: str) -> list[str]:
        """`summarizer._jieba.cut(text)`: the words of any text, white space left out."""
        return [word for word, _ in self._words(text)]

    def cut_each(self, texts: Sequence[str]) -> list[list[str]]:
        """`cut` of each of `texts` (the sentences of the body), their new runs cut in one jieba call."""
        self._cut_runs([run for text in texts for run in run_pattern().split(text)[1::2]])
        return [self.cut(text) for text in texts]

    def pos_cut(self, text: str) -> list[tuple[str, str]]:
        """`summarizer._jieba.pos_cut(text)`: (word, part-of-speech flag) pairs."""
        return pos_tag(self.cut(text))

    def cut_for_search(self, text: str) -> list[str]:
        """`summarizer._jieba.cut_for_search(text)`: the words plus the shorter words inside long ones."""
        return search_words(self.cut(text))

    def _words(self, text: str) -> Iterator[tuple[str, int]]:
        """(word, offset) of each word of `text`."""
        # the runs are at odd positions, what lies between them at even ones
        pieces = run_pattern().split(text)
        self._cut_runs(pieces[1::2])
        start = 0
        for i, piece in enumerate(pieces):
            if i % 2:
                for word in self._runs[piece]:
                    yield word, start
                    start += len(word)
            else:
                # outside runs jieba makes each character a token; `cut` drops the white space
                for offset, char in enumerate(piece, start):
                    if not char.isspace():
                        yield char, offset
                start += len(piece)

    def _cut_runs(self, runs: list[str]) -> None:
        """Cut the runs not cut before, in one jieba call: joined by line breaks, which end a run."""
        new_runs = list(dict.fromkeys(run for run in runs if run not in self._runs))
        if new_runs:
            joined = "\n".join(new_runs)
            _add_runs(joined, cut_keep_spaces(joined), self._runs)


def analyze(text: str, *, title: str = "") -> Analysis:
    """The article's body `text` and `title`, for `summarize`, `extract_tags`, `fingerprint` and
    `search_terms` to share: each run of them is cut once, when one of them first needs it."""
    return Analysis(text=text, title=title)


def _add_runs(text: str, words: list[str], runs: dict[str, tuple[str, ...]]) -> None:
    """Record in `runs` the words of each run of `text`, given `words`, all tokens of its cut in order."""
    next_word = 0
    for i, piece in enumerate(run_pattern().split(text)):
        first = next_word
        covered = 0
        while covered < len(piece):  # jieba's tokens never straddle two pieces
            covered += len(words[next_word])
            next_word += 1
        if i % 2:
            runs[piece] = tuple(words[first:next_word])
