"""Tags a reader would tap (issue #13): junk tags per 100 articles on the corpus posts, the corpus feeds'
entries and the eval set's news, each junk tag listed; and, as a positive figure, how many of our tags are
among the reference keywords of zh_news_keywords.jsonl.

The junk judge here is independent of the tagger: its own word lists (function words of English, German,
Portuguese, French and Spanish written from the Snowball stop lists, not copied from summarizer/stopwords.py),
URL parts, units, pure numbers, tokens with "_" or an apostrophe, one-letter Latin tokens and generic words.
It never calls the tagger's filter. Deterministic: each figure is one run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC
from pathlib import Path
from typing import Any

from benchmarks.measure import Target, table

ROOT = Path(__file__).resolve().parents[1].parent / "shared"
ARTICLES = ROOT / "corpus" / "articles"
FEEDS = ROOT / "corpus" / "feeds"
EVAL_NEWS = ROOT / "eval" / "zh_news_summ.test.jsonl"
EVAL_KEYWORDS = ROOT / "eval" / "zh_news_keywords.jsonl"
TARGET_PER_100 = 1.0
QUICK_ITEMS = 20  # per source with quick=True

# --- the judge ------------------------------------------------------------------------------------------

_JUDGE_FUNCTION_WORDS = frozenset(
    # English (Snowball): articles, pronouns, auxiliaries, prepositions, conjunctions
    "i me my we our ours you your he him his she her it its they them their what which who whom this that "
    "these those am is are was were be been being have has had do does did a an the and but if or because "
    "as until while of at by for with about against between into through during before after above below "
    "to from up down in out on off over under again further then once here there when where why how all any "
    "both each few more most other some such no nor not only own same so than too very can will just should "
    "now would could "
    # German (Snowball)
    "aber alle allem als also am an ander andere auch auf aus bei bin bis bist da damit dann das dass dem "
    "den der des dich die dir doch dort du durch ein eine einem einen einer eines er es etwas euch für "
    "hat hatte ich ihr im in ist jede jeder kann kein man mein mich mir mit muss nach nicht noch nun nur "
    "ob oder ohne sehr sein sich sie sind so über um und uns unter vom von vor war was weil welche wenn "
    "wer wie wir wird wo zu zum zur zwischen "
    # Portuguese (Snowball)
    "de a o que e do da em um para com não uma os no se na por mais as dos como mas ao ele das à seu sua "
    "ou quando muito nos já eu também só pelo pela até isso ela entre depois sem mesmo aos seus quem nas "
    "me esse eles você essa num nem suas meu às minha numa pelos elas qual nós lhe deles essas esses "
    "pelas este dele tu te vocês vos lhes meus minhas teu tua nossa nosso este esta isto aquele foi "
    "são era tem há ser "
    # French (Snowball)
    "au aux avec ce ces dans des du elle en et eux il je la le les leur lui ma mais mon même ne nos notre "
    "nous on ou par pas pour qu qui sa se ses son sur ta toi ton tu un une vos votre vous est sont "
    # Spanish (Snowball)
    "el la los las del al lo le les un una unos unas y en con por para su sus pero más este esta como "
    "ya muy sin sobre también hasta hay donde quien desde todo nos durante todos uno ni contra otros ese "
    "eso ante ellos esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho quienes "
    "nada muchos cual poco ella estar estas algunas algo nosotros".split()
)
_JUDGE_URL_PARTS = frozenset(
    "http https www com cn net org html htm shtml php asp aspx jsp gov edu mailto ftp".split()
)
_JUDGE_UNITS = frozenset(
    "km kg cm mm ml mg gb mb tb kb ghz mhz kwh kw mah fps mph "
    "同比 环比 万元 亿元 千元 亿美元 万美元 百分点 个百分点 人次 万人次 公里 千米 公斤 千克 吨 万吨 "
    "平方米".split()
)
# Words that would fit any article: the examples and their kind.
_JUDGE_GENERIC = frozenset(
    "工具 版本 成员 问题 情况 方面 工作 时间 记者 表示 进行 发展 目前 相关 报道 消息 图片 来源 编辑 "
    "点击 查看 "
    "研究 分析 方法 原因 结果 内容 方式 部分 过程 影响 作用 数据 信息 新闻 今日 今天 昨日 近日 "
    "top new more read live latest breaking update watch click here app download said says report".split()
)
_JUDGE_NUMBER = re.compile(r"^[\d.,%+\-/:]+$")
_JUDGE_ONE_LATIN_LETTER = re.compile(r"^[A-Za-z\u00c0-\u024f]$")
# an apostrophe followed by a lower-case letter: "wasn't", "Trump's" (O'Brien is a name, not junk)
_JUDGE_APOSTROPHE = re.compile(r"['’][a-z]")


def junk_reason(tag: str) -> str | None:
    """Why `tag` is junk for a reader, or None when it is a word a reader might tap."""
    lower = tag.lower().strip()
    if not lower:
        return "empty"
    if "_" in tag:
        return "underscore"
    if _JUDGE_APOSTROPHE.search(tag):
        return "apostrophe"
    if _JUDGE_NUMBER.match(lower):
        return "number"
    if _JUDGE_ONE_LATIN_LETTER.match(lower):
        return "one letter"
    acronym = len(tag) >= 2 and tag.isupper()  # "OS", "PHP", "HTML": names of things, whatever they spell
    if lower in _JUDGE_FUNCTION_WORDS and not acronym:
        return "function word"
    if lower in _JUDGE_URL_PARTS and not acronym:
        return "URL part"
    if lower in _JUDGE_UNITS:
        return "unit"
    if lower in _JUDGE_GENERIC:
        return "generic"
    return None


# --- the articles -----------------------------------------------------------------------------------------


def corpus_post_tags(limit: int | None = None) -> list[tuple[str, list[str]]]:
    from bot.services.prepare import prepare_article
    from bot.sources.posts import parse_post

    found: list[tuple[str, list[str]]] = []
    for path in sorted(ARTICLES.glob("*.md"))[:limit]:
        raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
        found.append((path.name, prepare_article(raw, max_chars=150).tags))
    return found


def feed_entry_tags(limit: int | None = None) -> list[tuple[str, list[str]]]:
    """Every entry of every corpus file that parses as a feed (two are HTML pages and are skipped)."""
    from bot.services.prepare import prepare_article
    from bot.sources.feeds import parse_feed
    from bot.sources.types import FeedParseError

    found: list[tuple[str, list[str]]] = []
    for path in sorted(FEEDS.iterdir()):
        try:
            feed = parse_feed(path.read_bytes(), origin=str(path), default_tz=UTC)
        except FeedParseError:
            continue
        for i, entry in enumerate(feed.entries):
            found.append((f"{path.name}#{i}", prepare_article(entry, max_chars=150).tags))
    return found[:limit]


def eval_news_tags(limit: int | None = None) -> list[tuple[str, list[str]]]:
    from summarizer import extract_tags

    rows = _jsonl(EVAL_NEWS)[:limit]
    return [(row["id"], extract_tags(row["article"], title=row.get("title", ""))) for row in rows]


def keyword_overlap(limit: int | None = None) -> tuple[int, int, int]:
    """(our tags that are reference keywords, our tags, documents) on zh_news_keywords.jsonl."""
    from summarizer import extract_tags

    rows = _jsonl(EVAL_KEYWORDS)[:limit]
    hits = total = 0
    for row in rows:
        tags = extract_tags(row["article"], title=row.get("title", ""))
        references = {k.lower() for k in row["keywords"]}
        hits += sum(t.lower() in references for t in tags)
        total += len(tags)
    return hits, total, len(rows)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- the section ------------------------------------------------------------------------------------------


def measure(quick: bool) -> tuple[str, list[Target]]:
    """The markdown section and its targets: junk tags per 100 articles on each source, < 1 each."""
    limit = QUICK_ITEMS if quick else None
    sources = [
        ("corpus posts (prepare_article)", corpus_post_tags(limit)),
        ("corpus feeds' entries (prepare_article)", feed_entry_tags(limit)),
        (f"eval news ({EVAL_NEWS.name})", eval_news_tags(limit)),
    ]
    rows: list[list[object]] = []
    targets: list[Target] = []
    listed: list[str] = []
    for name, tagged in sources:
        junk = [(item, tag, reason) for item, tags in tagged for tag in tags if (reason := junk_reason(tag))]
        per_100 = 100 * len(junk) / len(tagged) if tagged else 0.0
        tag_count = sum(len(tags) for _, tags in tagged)
        rows.append([name, len(tagged), tag_count, len(junk), f"{per_100:.2f}"])
        measured = f"{per_100:.2f} junk tags per 100 articles ({len(junk)} in {len(tagged)} articles)"
        what = f"tags: junk per 100 articles, {name} < {TARGET_PER_100:g}"
        targets.append(Target(what, measured, per_100 < TARGET_PER_100))
        counts = Counter((tag, reason) for _, tag, reason in junk)
        for (tag, reason), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            where = ", ".join(item for item, t, _ in junk if t == tag)[:120]
            listed.append(f"- {name}: `{tag}` ({reason}) ×{n}: {where}")
    hits, total, docs = keyword_overlap(limit)
    share = 100 * hits / total if total else 0.0
    lines = [
        "### Tags a reader would tap",
        "",
        "Junk tags counted by an independent judge (function words of five languages, URL parts, units, pure "
        "numbers, tokens with `_` or an apostrophe, one-letter Latin tokens, generic words)"
        + (f"; quick run: the first {QUICK_ITEMS} items of each source." if quick else "."),
        "",
        table(["source", "articles", "tags", "junk tags", "junk per 100 articles"], rows),
        "",
        "Junk tags found:" if listed else "No junk tag found.",
        *listed,
        "",
        f"Positive figure: {hits} of our {total} tags ({share:.1f}%) on {docs} documents of "
        f"`{EVAL_KEYWORDS.name}` are among the authors' reference keywords.",
    ]
    return "\n".join(lines), targets
