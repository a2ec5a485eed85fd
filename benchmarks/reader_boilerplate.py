"""Reader-facing check of issue #13 (first point): the share of summaries that open with boilerplate
(disclaimers, editor's notes, bylines and datelines, credits, promos, link lists, stray closing quotes), on
the eval test split and on the shared corpus's posts, with each offender listed; and ROUGE on the dev split,
so that removing boilerplate is seen not to cost summary quality.

The judge is the list of openings below, written here and independent of `summarizer/boilerplate.py`, so the
stripper does not grade itself. Everything is deterministic: one run per figure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC
from typing import Any

from benchmarks.measure import Target, table
from benchmarks.quality import EVAL, LCSTS_BUDGET, load_jsonl, score_system
from summarizer import strip_boilerplate, summarize

# What readers get by default (SUMMARY_MAX_CHARS).
READER_BUDGET = 150
# Dev-split ROUGE-1/2/L F1 of the summarizer before this change (EXTRACTIVE_VERSION "ext-2", no boilerplate
# step), measured with the same scorer as `score_system`, LCSTS budget 40.
BEFORE_DEV_ROUGE = (28.47, 16.15, 24.52)

# Openings a summary must not have. Chinese: labels, bylines "【文/…】" and "文 | …", datelines
# "财联社6月9日讯（…）" / "新华社北京6月9日电" / "央视网消息（…）", credits, calls to action;
# English: the same kinds; and a closing quotation mark with nothing before it.
_BOILERPLATE_OPENING = re.compile(
    r"""^(?:
        免责(?:声明|申明) | 编者(?:按|注|的话) | 【[^】]{0,10}按】 | 原(?:标)?题[:：]
      | 责任编辑 | (?:编辑|校对|审核|作者|摄影)[:：] | (?:图片|文章|本文)?来源[:：] | 图源 | 本文转载自
      | 扫码 | 扫描二维码 | 长按识别 | 关注(?:我们|公众号|微信) | 下载 | 点击 | 名额有限 | 欢迎转载 | 转载请
      | 【(?:文|作者|记者)\s*[/／|｜:：] | 文\s*[|｜/／]
      | [^，。\s]{2,12}\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:讯|电|消息)
      | [^，。\s]{2,12}(?:讯|电|消息|报道)\s*[（(] | [^，。\s]{2,12}(?:讯|电)\d{1,2}月
      | [^，。\s]{2,12}[（(][^）)]{0,20}[）)]\s*(?:讯|电)
      | Disclaimer | Editor.s\s+note | Original\s+(?:title|headline) | By\s+[A-Z]
      | \((?:Reuters|AP|AFP)\) | [A-Z][A-Z ]+\((?:AP|Reuters|AFP)\)
      | Photo: | Subscribe | Sign\s+up | Download\s+the\s+app | Continue\s+reading
      | [”」』]
    )""",
    re.VERBOSE,
)


_SENTENCE_MARK = re.compile(r"[，。,.!?！？：:；;]")


def starts_with_boilerplate(summary: str) -> bool:
    """The benchmark's judge: a boilerplate opening, or a summary that is a link list (several short names,
    Chinese among them, no sentence punctuation: "搜狐视频 爱奇艺 番组计划 Viu")."""
    if _BOILERPLATE_OPENING.match(summary.strip()):
        return True
    names = summary.split()
    return (
        len(names) >= 3
        and all(len(n) <= 8 and re.search(r"\w", n) and not _SENTENCE_MARK.search(n) for n in names)
        and any(re.search(r"[\u4e00-\u9fff]", n) for n in names)
    )


def _eval_summaries(items: list[dict[str, Any]], *, strip: bool) -> list[tuple[str, str]]:
    out = []
    for item in items:
        article = strip_boilerplate(item["article"]) if strip else item["article"]
        summary = summarize(article, title=item.get("title", ""), max_chars=READER_BUDGET)
        out.append((item["id"], summary.text))
    return out


def _corpus_summaries(limit: int | None, *, strip: bool) -> list[tuple[str, str]]:
    """(post, summary) through the ingest path (`prepare_article`); without the step, the same summarizer
    on the cleaned text, as before the change."""
    from bot.services.prepare import clean_body, prepare_article
    from bot.sources.posts import parse_post

    folder = EVAL.parent / "corpus" / "articles"
    out = []
    for path in sorted(folder.glob("*.md"))[:limit]:
        raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
        if strip:
            summary = prepare_article(raw, max_chars=READER_BUDGET).summary.text
        else:
            text = clean_body(raw).text
            summary = summarize(text, title=raw.title, max_chars=READER_BUDGET).text or raw.title
        out.append((path.name, summary))
    return out


def _share(summaries: list[tuple[str, str]]) -> tuple[float, list[tuple[str, str]]]:
    offenders = [(name, s) for name, s in summaries if starts_with_boilerplate(s)]
    return (100 * len(offenders) / len(summaries) if summaries else 0.0), offenders


def _offender_rows(label: str, offenders: list[tuple[str, str]]) -> list[list[object]]:
    return [[label, name, s[:70] + ("…" if len(s) > 70 else "")] for name, s in offenders]


def _rouge_system(strip: bool) -> Callable[[str, str, int], str]:
    def system(article: str, title: str, budget: int) -> str:
        return summarize(strip_boilerplate(article) if strip else article, title=title, max_chars=budget).text

    return system


def measure(quick: bool) -> tuple[str, list[Target]]:
    test = load_jsonl(EVAL / "zh_news_summ.test.jsonl")
    dev = load_jsonl(EVAL / "zh_news_summ.dev.jsonl")
    corpus_limit: int | None = None
    if quick:
        test, dev, corpus_limit = test[:10], dev[:10], 8

    rows = []
    offenders: list[list[object]] = []
    shares = {}
    sets: list[tuple[str, Callable[[bool], list[tuple[str, str]]]]] = [
        ("eval test split", lambda strip: _eval_summaries(test, strip=strip)),
        ("corpus posts", lambda strip: _corpus_summaries(corpus_limit, strip=strip)),
    ]
    for label, summaries_of in sets:
        before_share, before_offenders = _share(summaries_of(False))
        after_summaries = summaries_of(True)
        after_share, after_offenders = _share(after_summaries)
        shares[label] = (after_share, len(after_offenders), len(after_summaries))
        rows.append(
            [
                label,
                len(after_summaries),
                f"{before_share:.1f}% ({len(before_offenders)})",
                f"{after_share:.1f}% ({len(after_offenders)})",
            ]
        )
        offenders += _offender_rows(f"{label}, without the step", before_offenders)
        offenders += _offender_rows(f"{label}, with the step", after_offenders)

    with_step = score_system(dev, _rouge_system(True), LCSTS_BUDGET)
    without_step = score_system(dev, _rouge_system(False), LCSTS_BUDGET)
    ours = (with_step.r1, with_step.r2, with_step.rl)
    # the baseline runs here, in the same run: the same summarizer without the boilerplate step
    baseline = tuple(round(x, 2) for x in (without_step.r1, without_step.r2, without_step.rl))

    def triple(r: tuple[float, ...]) -> str:
        return " / ".join(f"{x:.2f}" for x in r)

    text = (
        "Share of summaries that open with boilerplate (judged by the opening patterns of "
        "`benchmarks/reader_boilerplate.py`, independent of the stripper), at the reader's budget of "
        f"{READER_BUDGET} characters: eval test split (`zh_news_summ.test.jsonl`) through "
        "`strip_boilerplate` + `summarize`, corpus posts through `prepare_article`. \"Without the step\" "
        "summarizes the same text without `strip_boilerplate`.\n\n"
        + table(["set", "summaries", "without the step", "with the step"], rows)
        + "\n\n"
        + (
            table(["where", "item", "summary"], offenders)
            if offenders
            else "No summary opens with boilerplate."
        )
        + f"\n\nDev split ROUGE-1/2/L F1 (budget {LCSTS_BUDGET}): {triple(ours)} now, "
        + f"{triple(baseline)} without the boilerplate step ({len(dev)} items)"
        + (
            f"; the summarizer before this change (EXTRACTIVE_VERSION ext-2) scored "
            f"{triple(BEFORE_DEV_ROUGE)} on the whole dev split when measured on 2026-11-26."
            if not quick
            else "."
        )
    )
    targets = [
        Target(
            f"boilerplate: summaries opening with boilerplate, {label}",
            f"{share:.1f}% ({count} of {total})",
            count == 0,
        )
        for label, (share, count, total) in shares.items()
    ]
    targets.append(
        Target(
            "boilerplate: dev-split ROUGE-1/2/L not lower than without the step",
            f"{triple(ours)} vs {triple(baseline)}",
            all(round(a, 2) >= b for a, b in zip(ours, baseline, strict=True)),
        )
    )
    return text, targets
