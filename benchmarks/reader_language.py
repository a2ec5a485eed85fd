"""Language identification: how often `detect_language` names the language of the corpus feeds' entries,
beside the character count it replaced, and what it costs (loading the model once, then each call).

The language of each feed file is written here (FEED_LANGUAGES), from the feed's own declaration and a
reading of its entries; the tests read the same labels. Entries are parsed and cleaned as the import does
(`parse_feed`, then `clean_body`) and identified from title + "\n" + text, as `prepare_article` does.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from benchmarks.corpus import ARTICLES, CORPUS
from benchmarks.measure import Figure, Target, table

FEEDS = CORPUS / "feeds"
ACCURACY_TARGET = 0.95

# feed file -> the language of its entries; None: not a feed (an HTML page served at the feed's URL)
FEED_LANGUAGES: dict[str, str | None] = {
    "rss-parser__encoding-gb2312.orig-77ffd78.xml": "zh",  # QQ 新闻国内, <language>zh-cn
    "rss-parser__encoding-gb2312.xml": "zh",  # QQ tech 互联网
    "rss-parser__encoding.rss": "pt",  # Jornal de Notícias, <language>pt-pt
    "rss-parser__guardian.rss": "en",  # The Guardian US, <language>en-gb
    "rss-parser__heise.atom": "de",  # heise developer neueste Meldungen
    "rssant__bilibili_iframe.xml": "zh",
    "rssant__chardet-gb2312-no-declaration.xml": "zh",  # GB2312 without a declaration; parse_feed decodes it
    "rssant__dapenti_blog_iframe.xml": "zh",
    "rssant__http-blog-hexun-com-group-getrssresouce-aspx-classid-74.xml": None,  # an HTML error page
    "rssant__http-yx-bsh-me-feed.xml": None,  # an HTML redirect page
    "rssant__https-laod-cn-feed.xml": "zh",
    "rssant__https-www-oschina-net-news-rss-show-industry.xml": "zh",
    "rssant__v2ex-no-id-no-summary-no-url.xml": "zh",
    "rssant__www-ruangyifeng-com-blog-atom.xml": "zh",
}

# (feed file, entry title) -> its language, for entries not in their feed's language
ENTRY_EXCEPTIONS: dict[tuple[str, str], str] = {
    # a test item whose title and body are both "test-content": English words, no Chinese in it (py3langid
    # says French, at 0.38: "test" and "content" are French words too)
    ("rssant__v2ex-no-id-no-summary-no-url.xml", "test-content"): "en",
}


@dataclass(frozen=True, slots=True)
class LabelledText:
    source: str  # the feed file's or post's name
    title: str
    text: str  # title + "\n" + cleaned body, as prepare_article identifies it
    language: str  # the label


def feed_entries(feeds: Path = FEEDS) -> list[LabelledText]:
    """Every entry of every labelled feed file, with its label (exceptions applied)."""
    from bot.services.prepare import clean_body
    from bot.sources.feeds import parse_feed

    found: list[LabelledText] = []
    for name, language in FEED_LANGUAGES.items():
        if language is None:
            continue
        path = feeds / name
        for raw in parse_feed(path.read_bytes(), origin=str(path), default_tz=UTC).entries:
            label = ENTRY_EXCEPTIONS.get((name, raw.title), language)
            found.append(LabelledText(name, raw.title, raw.title + "\n" + clean_body(raw).text, label))
    return found


def post_texts(articles: Path = ARTICLES) -> list[LabelledText]:
    """The corpus posts (all Chinese), cleaned as the import cleans them."""
    from bot.services.prepare import clean_body
    from bot.sources.posts import parse_post

    found: list[LabelledText] = []
    for path in sorted(articles.glob("*.md")):
        raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
        found.append(LabelledText(path.name, raw.title, raw.title + "\n" + clean_body(raw).text, "zh"))
    return found


def character_count_language(text: str) -> str:
    """The baseline: the character count `detect_language` was before it had a model ("zh", "en" or
    "und"), copied as it stood so the comparison stays fixed."""
    from summarizer.language import is_cjk_char

    def is_latin(ch: str) -> bool:
        return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("\u00c0" <= ch <= "\u024f" and ch.isalpha())

    cjk = latin = letters = 0
    for ch in text:
        if is_cjk_char(ch):
            cjk += 1
            letters += 1
        elif is_latin(ch):
            latin += 1
            letters += 1
        elif ch.isalpha():
            letters += 1
    if letters < 2:
        return "und"
    if cjk / letters >= 0.2:
        return "zh"
    if latin / letters >= 0.5:
        return "en"
    return "und"


_FIRST_CALL = """
import sys, time
start = time.perf_counter()
import summarizer
imported = time.perf_counter()
loaded_at_import = "py3langid" in sys.modules
from summarizer.language import detect_language
answer = detect_language("Die nun verfügbare Version des Anwendungsservers unterstützt Java EE 7.")
done = time.perf_counter()
print(imported - start, done - imported, loaded_at_import, answer)
"""


def _first_calls(runs: int) -> tuple[list[float], list[float], bool]:
    """In fresh interpreters: the import time of `summarizer`, the first call's time (loading the model),
    and whether the import alone loaded py3langid in any run."""
    imports: list[float] = []
    firsts: list[float] = []
    loaded_at_import = False
    repo = Path(__file__).resolve().parents[1]
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _FIRST_CALL], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.split()
        imports.append(float(out[0]) * 1000)
        firsts.append(float(out[1]) * 1000)
        loaded_at_import |= out[2] == "True"
        if out[3] != "de":
            raise RuntimeError(f"the first call answered {out[3]!r} for a German sentence")
    return imports, firsts, loaded_at_import


def _per_call_us(detect: Callable[[str], str], texts: list[str], rounds: int) -> Figure:
    """Microseconds per call over `texts`, one value per round."""
    values: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            detect(text)
        values.append((time.perf_counter() - start) / len(texts) * 1e6)
    return Figure.of(values, digits=0)


def measure(quick: bool) -> tuple[str, list[Target]]:
    from summarizer.language import CANDIDATE_LANGUAGES, MAX_CLASSIFIED_CHARS, detect_language

    entries = feed_entries()
    posts = post_texts()
    rows: list[list[object]] = []
    misses: list[list[object]] = []
    total_new = total_old = 0

    def row(name: str, label: str, items: list[LabelledText]) -> tuple[int, int]:
        answers = [detect_language(i.text) for i in items]
        new = sum(answer == i.language for answer, i in zip(answers, items, strict=True))
        old = sum(character_count_language(i.text) == i.language for i in items)
        rows.append([name, label, len(items), f"{new}/{len(items)}", f"{old}/{len(items)}"])
        misses.extend(
            [i.source, i.title[:60], i.language, answer]
            for answer, i in zip(answers, items, strict=True)
            if answer != i.language
        )
        return new, old

    for name, language in FEED_LANGUAGES.items():
        if language is not None:
            new, old = row(name, language, [e for e in entries if e.source == name])
            total_new += new
            total_old += old
    accuracy, baseline = total_new / len(entries), total_old / len(entries)
    rows.append(["**all feed entries**", "", len(entries), f"{total_new}/{len(entries)} ({accuracy:.1%})",
                 f"{total_old}/{len(entries)} ({baseline:.1%})"])  # fmt: skip
    row("corpus posts (articles/*.md)", "zh", posts)
    imports, firsts, loaded_at_import = _first_calls(1 if quick else 5)
    texts = [e.text for e in entries]
    latin = [e.text for e in entries if e.language not in ("zh", "ja")]
    long_texts = [t for t in (p.text for p in posts) if len(t) >= MAX_CLASSIFIED_CHARS]
    rounds = 1 if quick else 5
    new_all = _per_call_us(detect_language, texts, rounds)
    new_latin = _per_call_us(detect_language, latin, rounds)
    new_long = _per_call_us(detect_language, long_texts, rounds)
    old_all = _per_call_us(character_count_language, texts, rounds)
    median_len = statistics.median(len(t) for t in texts)

    lines = [
        "Each entry of each corpus feed, parsed and cleaned as the import does, identified from title and "
        f"text. `detect_language` classifies the first {MAX_CLASSIFIED_CHARS:,} characters: kana and CJK "
        "shares decide Japanese and Chinese, py3langid (model shipped in the package, restricted to "
        f"{', '.join(CANDIDATE_LANGUAGES)}) the rest. The baseline is the character count it replaced "
        "(Chinese or English only).",
        "",
        table(["feed", "language", "entries", "detect_language", "character count (before)"], rows),
        "",
    ]
    if misses:
        lines += ["Entries `detect_language` gets wrong:", "",
                  table(["feed", "title", "label", "answer"], misses), ""]  # fmt: skip
    else:
        lines += ["`detect_language` names every entry's language.", ""]
    lines += [
        table(
            ["cost", "ms or µs"],
            [
                ["import of `summarizer` (fresh interpreter), ms", str(Figure.of(imports, digits=0))],
                ["first call: loads py3langid and its model, ms", str(Figure.of(firsts, digits=0))],
                [f"per call, all feed entries (median {median_len:.0f} chars), µs", str(new_all)],
                ["per call, the Latin-script entries (the model runs), µs", str(new_latin)],
                [f"per call, posts of {MAX_CLASSIFIED_CHARS:,}+ chars, µs", str(new_long)],
                ["per call, character count (before), all feed entries, µs", str(old_all)],
            ],
        ),
        "",
        "py3langid is loaded "
        + ("**at import of `summarizer`**." if loaded_at_import else "on the first call, not at import."),
    ]
    targets = [
        Target(
            f"language: accuracy on the corpus feeds' entries ≥ {ACCURACY_TARGET:.0%}",
            f"{accuracy:.1%} ({total_new}/{len(entries)}; character count {baseline:.1%})",
            accuracy >= ACCURACY_TARGET,
        ),
        Target(
            "language: importing summarizer loads no model",
            "loaded on the first call" if not loaded_at_import else "loaded at import",
            not loaded_at_import,
        ),
    ]
    return "\n".join(lines), targets
