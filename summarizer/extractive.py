"""Extractive summaries: pick the most central, lead-weighted sentences within a character budget.

Holds `summarize` and the `Summary` it returns. Sentences are ranked by TextRank (PageRank over
jieba-token overlap, written out here in plain Python), a lead-position prior and title overlap;
near-duplicates are skipped and the chosen sentences are output in their original order. Pure and
deterministic: no randomness, no clock, no settings, and every tie is broken by sentence position.
An LLM summarizer, if any, lives elsewhere behind the same interface.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from summarizer._jieba import cut, cut_keep_spaces, news_stopwords
from summarizer.sentences import split_sentences

__all__ = ["EXTRACTIVE_VERSION", "Summary", "summarize"]

# Bump when the output for the same input changes, so stored summaries can be recomputed.
EXTRACTIVE_VERSION = "ext-3"

ELLIPSIS = "…"


@dataclass(frozen=True)
class Summary:
    """A summary and how it was made (`method`, `version`), so stored summaries can be traced."""

    text: str
    method: str = "extractive"
    version: str = EXTRACTIVE_VERSION


# Ranking weights, tuned on the dev split of zh_news_summ only.
_DAMPING = 0.85
_ITERATIONS = 40
_W_CENTRALITY = 0.5
_W_LEAD = 1.2
_W_TITLE = 1.0
_REDUNDANCY = 0.6
# Once the summary holds this share of the budget, no further sentence is added: references (headlines,
# editors' summaries) run at about half the room a reader allows, and each extra sentence costs more precision
# than it adds recall. A sentence is still never cut while a whole one fits.
_TARGET_SHARE = 0.6
# Long articles: ranking only the opening sentences keeps the cost bounded and loses little, since
# news puts its substance first.
_MAX_SENTENCES = 120

# Captions, credits and bare attributions: fine inside a sentence, poor as a summary on their own.
_WEAK_SENTENCE = re.compile(
    r"^图为|^(?:图|图片|视频)[:：]|[（(]\s*(?:图|图片|摄影|摄)\s*[/／:：|]|图源[:：]|图片来源|视频截图\s*$|截图\s*$"
    r"|^据.{1,20}(?:报道|消息|电)[。，:：]?$|^(?:记者|通讯员|编辑).{0,12}$|^[（(【\[].{0,30}[）)】\]]$"
    r"|^(?:全文|原文|详情|通知|公告)如下[:：]?$"  # a lead-in to a quoted notice (corpus 0038)
)
# Quotation marks a summary must keep in pairs. ‘’ are left out: in English they are apostrophes.
_QUOTE_PAIRS = {"“": "”", "「": "」", "『": "』"}
_QUOTE_CLOSERS = {close: open_ for open_, close in _QUOTE_PAIRS.items()}
# A line that is only a short quotation ("“足球回家（home）！”" opening corpus 0007 once its byline is gone,
# "“三点看不看？”" further down): a voice from the story, not what happened. Inside a paragraph a short quote
# may be the story itself ("“山西官场被查蒙了。”8月29日晚，…", eval dev), so only whole lines count.
_MAX_QUOTE_FRAGMENT = 12
_CLAUSE_END = "，,、；;：:—"
_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)
# Single characters and function words carry no topic; sentences are compared on the rest.
_FUNCTION_WORDS = frozenset(
    "的 了 在 是 和 与 及 或 也 都 就 而 但 并 被 把 对 将 从 向 为 以 于 之 其 这 那 有 个 等 中 上 下 "
    "我 你 他 她 它 们 a an the of to in on for and or is are was were be by with as at that this it".split()
)


def _key(s: str) -> str:
    """Comparison form: no punctuation or spaces, lower case."""
    return _PUNCT_OR_SPACE.sub("", s).lower()


def _content_tokens(sentence: str) -> list[str]:
    stop = news_stopwords()
    out: list[str] = []
    for tok in cut(sentence):
        low = tok.lower()
        if not _PUNCT_OR_SPACE.sub("", low) or low in _FUNCTION_WORDS or low in stop:
            continue
        out.append(low)
    return out


def _similarity(a: set[str], b: set[str]) -> float:
    """TextRank's overlap measure: shared words normalised by the log of the sentence lengths."""
    if not a or not b:
        return 0.0
    common = len(a & b)
    if not common:
        return 0.0
    denom = math.log(len(a) + 1) + math.log(len(b) + 1)
    return common / denom if denom > 0 else 0.0


def _pagerank(weights: list[list[float]]) -> list[float]:
    n = len(weights)
    if n == 0:
        return []
    out_sum = [sum(row) for row in weights]
    rank = [1.0 / n] * n
    for _ in range(_ITERATIONS):
        new = []
        for i in range(n):
            incoming = 0.0
            for j in range(n):
                w = weights[j][i]
                if w and out_sum[j]:
                    incoming += w / out_sum[j] * rank[j]
            new.append((1 - _DAMPING) / n + _DAMPING * incoming)
        rank = new
    return rank


_SENTENCE_END = "。！？；…!?.;”’」』）)\"'】》"


def _joiner(left: str, right: str) -> str:
    # Chinese sentences run on without a space; Latin text needs one, and so does a heading or
    # caption line without a final stop, which would otherwise fuse with the next sentence.
    if not left or not right:
        return ""
    if left[-1] not in _SENTENCE_END or left[-1].isascii() or right[0].isascii():
        return " "
    return ""


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        out += _joiner(out, part) + part
    return out


# A leading attribution clause ("据新华社报道，", "新华社北京12月30日电，", "记者从…获悉，") is the
# first thing to go when a sentence has to be shortened.
_LEADING_ATTRIBUTION = re.compile(
    r"^(?:据[^，,。]{1,24}(?:报道|消息|介绍|通报|披露)|[^，,。]{2,24}[0-9０-９]{1,2}日(?:电|讯)|记者[^，,。]{0,20}(?:获悉|了解到))"
    r"\s*[，,：:]\s*"
)


# Where and when a story happened, said before it starts ("昨晚，", "11日下午，", "2014年，",
# "中国铁路总公司消息，"): headlines leave it out, and so does a summary.
_LEADING_CONTEXT = re.compile(
    r"^(?:(?:[今昨前明]天|[今昨]晚|[今昨]日|近日|日前|目前|当天|当日|本周|上周|近期|此前"
    r"|(?:[0-9０-９]{4}年)?(?:[0-9０-９]{1,2}月)?(?:[0-9０-９]{1,2}日)?(?:上午|下午|晚间?|凌晨|中午|早上|傍晚)?"
    r"|[^，,。：:]{2,16}(?:消息|报道|获悉))[，,：:]\s*)+"
)
_DROP_LEAD_CONTEXT = True


def _without_context(sentence: str) -> str:
    if not _DROP_LEAD_CONTEXT:
        return sentence
    shorter = _LEADING_ATTRIBUTION.sub("", sentence, count=1)
    shorter = _LEADING_CONTEXT.sub("", shorter, count=1)
    # keep the sentence whole when too little would be left to stand on its own
    return shorter if len(_key(shorter)) >= 8 else sentence


def _cut_to_budget(sentence: str, max_chars: int) -> str:
    """Shorten one sentence to at most `max_chars` characters, ellipsis included.

    Drops a leading attribution clause first, then cuts after the last clause mark that leaves at
    least half the budget; failing that, after the last jieba word that fits, so that neither a
    Chinese word nor a Latin word or number is split.
    """
    if len(sentence) <= max_chars:
        return sentence
    if max_chars <= 0:
        return ""
    if max_chars == 1:
        return ELLIPSIS
    shorter = _LEADING_ATTRIBUTION.sub("", sentence, count=1)
    if shorter and len(shorter) <= max_chars:
        return shorter
    if shorter:
        sentence = shorter
    room = sentence[: max_chars - 1]
    clause_end = max((room.rfind(ch) for ch in _CLAUSE_END), default=-1)
    if clause_end >= max(1, (max_chars - 1) // 2):
        head = room[:clause_end]
    else:
        head = ""
        for token in cut_keep_spaces(sentence):
            if len(head) + len(token) > max_chars - 1:
                break
            head += token
    head = head.rstrip(" " + _CLAUSE_END)
    return (head or room) + ELLIPSIS


def _body_sentences(text: str, title: str) -> tuple[list[str], list[str]]:
    """All sentences, and those worth ranking: without a first line that only repeats the title."""
    sentences = split_sentences(text)
    tkey = _key(title)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if tkey and lines and _key(lines[0]) == tkey:
        return sentences, split_sentences("\n".join(lines[1:]))
    return sentences, sentences


def summarize(text: str, *, title: str = "", max_chars: int = 150) -> Summary:
    """Summarize `text` in at most `max_chars` characters.

    Whole sentences are kept in their original order; a sentence is only cut (at a clause mark,
    with "…") when the best one is longer than the whole budget. With no usable sentence the title
    stands in, cut the same way.
    """
    title = " ".join(title.split())
    sentences, content = _body_sentences(text, title)
    if not sentences:
        return Summary(text=_cut_to_budget(title, max_chars))
    if not content:
        # A flash item: the body is just the headline.
        return Summary(text=_cut_to_budget(_join(sentences), max_chars))
    lines = {line.strip() for line in text.splitlines()}
    quote_lines = {i for i, s in enumerate(content[:_MAX_SENTENCES]) if _is_quote_line(s, lines)}
    content = [_without_context(s) for s in content[:_MAX_SENTENCES]]
    n = len(content)
    scores, token_sets = _score_sentences(content, title)

    # Captions and credits compete only when there is nothing else; and when there is nothing else, a title
    # says more than a caption ("(视频)" under a video post).
    candidates = [i for i in range(n) if not _is_weak(content[i]) and i not in quote_lines]
    if not candidates and title:
        return Summary(text=_cut_balanced(title, max_chars))
    candidates = candidates or list(range(n))
    order = sorted(candidates, key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    length = 0
    for i in order:
        if chosen and length >= _TARGET_SHARE * max_chars:
            break
        if any(_overlap(token_sets[i], token_sets[j]) > _REDUNDANCY for j in chosen):
            continue
        joined = len(_render(content, [*chosen, i]))
        if joined <= max_chars:
            chosen.append(i)
            length = joined

    best = order[0]
    if not chosen or (best not in chosen and len(content[best]) > max_chars and best == 0):
        # The top sentence alone overflows the budget: a cut lead says more than the
        # minor sentences that happen to fit.
        return Summary(text=_cut_balanced(content[best], max_chars))
    return Summary(text=_render(content, chosen))


def _is_quote_line(sentence: str, lines: set[str]) -> bool:
    """A short quotation standing as a line of its own: dialogue, a chant, a chat message."""
    if not sentence or sentence[0] not in _QUOTE_PAIRS or sentence not in lines:
        return False
    close = sentence.find(_QUOTE_PAIRS[sentence[0]])
    whole_quote = close == -1 or not _key(sentence[close + 1 :])
    return whole_quote and len(_key(sentence)) <= _MAX_QUOTE_FRAGMENT


def _is_weak(sentence: str) -> bool:
    return bool(_WEAK_SENTENCE.search(sentence))


def _balance_quotes(text: str) -> str:
    """`text` with its quotation marks in pairs, for a sentence taken from inside a longer quotation.

    A closing mark at the very start is dropped; the tail of a quote ("…那会儿我是气得就脑梗了。”") gets
    its opening mark back, and a quote still open at the end ("“绿豆汤不能治脑梗，对肝火旺有效。") is
    closed there, so that neither reads as the reporter's own words; a pair typed the wrong way round
    (”…“) is turned."""
    chars = list(text.lstrip())
    while chars and chars[0] in _QUOTE_CLOSERS:
        chars.pop(0)
    open_at: list[int] = []
    stray_closers: list[int] = []
    for i, ch in enumerate(chars):
        if ch in _QUOTE_PAIRS:
            open_at.append(i)
        elif ch in _QUOTE_CLOSERS:
            if open_at and chars[open_at[-1]] == _QUOTE_CLOSERS[ch]:
                open_at.pop()
            else:
                stray_closers.append(i)
    for i in list(open_at):
        turned = next((j for j in stray_closers if _typed_backwards(chars, j, i)), None)
        if turned is not None:
            chars[turned], chars[i] = chars[i], chars[turned]
            stray_closers.remove(turned)
            open_at.remove(i)
    reopen = "".join(_QUOTE_CLOSERS[chars[j]] for j in reversed(stray_closers))
    close = "".join(_QUOTE_PAIRS[chars[i]] for i in reversed(open_at))
    return reopen + "".join(chars) + close


def _typed_backwards(chars: list[str], closer: int, opener: int) -> bool:
    """Whether a stray closing mark and a later opening mark are one quote typed the wrong way round
    ("这类 ”user-after-free“ 漏洞", OSCHINA feed): close together, within one clause, the closer not
    ending a sentence (as in "…买房。”然后“…", where a quote ends and another begins)."""
    if _QUOTE_CLOSERS[chars[closer]] != chars[opener] or not 0 < opener - closer <= 30:
        return False
    before = chars[closer - 1] if closer else ""
    between = "".join(chars[closer + 1 : opener])
    return before not in _SENTENCE_END and not any(ch in "。！？!?；;，," for ch in between)


def _render(content: list[str], chosen: list[int]) -> str:
    """The chosen sentences in their original order, quotes balanced per run of neighbouring sentences (a
    quote that spans two chosen neighbours stays one quote)."""
    runs: list[list[int]] = []
    for i in sorted(chosen):
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return _join([_balance_quotes(_join([content[i] for i in run])) for run in runs])


def _cut_balanced(sentence: str, max_chars: int) -> str:
    """`_cut_to_budget` with balanced quotes, the closing marks it adds counted in the budget."""
    budget = max_chars
    while True:
        text = _balance_quotes(_cut_to_budget(sentence, budget))
        if len(text) <= max_chars or budget <= 1:
            return text if len(text) <= max_chars else _cut_to_budget(sentence, max_chars)
        budget -= len(text) - max_chars


def _score_sentences(content: list[str], title: str) -> tuple[list[float], list[set[str]]]:
    """Centrality + lead position + title overlap per sentence, and each sentence's word set."""
    token_sets = [set(_content_tokens(s)) for s in content]
    n = len(content)
    weights = [
        [0.0 if i == j else _similarity(token_sets[i], token_sets[j]) for j in range(n)] for i in range(n)
    ]
    centrality = _pagerank(weights)
    top = max(centrality)
    title_tokens = set(_content_tokens(title)) if title else set()

    scores: list[float] = []
    for i, sentence in enumerate(content):
        score = _W_CENTRALITY * (centrality[i] / top if top else 0.0)
        score += _W_LEAD / (1.0 + i)
        if title_tokens:
            score += _W_TITLE * len(token_sets[i] & title_tokens) / len(title_tokens)
        if not token_sets[i]:
            score *= 0.2
        elif i and sentence[-1] not in _SENTENCE_END and len(sentence) < 30:
            score *= 0.5  # a subheading: names the topic but says little
        scores.append(score)
    return scores, token_sets


def _overlap(a: set[str], b: set[str]) -> float:
    """Share of the smaller sentence's words found in the other: high means saying the same thing."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
