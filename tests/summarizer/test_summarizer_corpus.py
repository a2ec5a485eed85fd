"""Every article of the shared corpus: cleaned, summarized within 150 chars, and tagged."""

from pathlib import Path

import pytest

from summarizer import extract_tags, markdown_to_text, summarize

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def _articles() -> list[Path]:
    return sorted((CORPUS / "articles").glob("*.md"))


def _split_front_matter(raw: str) -> tuple[str, str]:
    """(title, body); a simple split on the '---' lines, good enough for this corpus."""
    lines = raw.lstrip().split("\n")
    end = lines.index("---", 1)
    titles = (ln.split(":", 1)[1].strip().strip("'\"") for ln in lines[1:end] if ln.startswith("title:"))
    title = next(titles, "")
    return title, "\n".join(lines[end + 1 :])


def test_corpus_articles_summarize_and_tag() -> None:
    if not (CORPUS / "articles").is_dir():
        pytest.skip(f"../shared/corpus not found at {CORPUS}")
    paths = _articles()
    assert paths
    for path in paths:
        title, body = _split_front_matter(path.read_text(encoding="utf-8"))
        clean = markdown_to_text(body)
        summary = summarize(clean.text, title=title, max_chars=150)
        assert 0 < len(summary.text) <= 150, path.name
        if len(clean.text) >= 200:
            assert 3 <= len(extract_tags(clean.text, title=title)) <= 6, path.name


def _prepared_summary(number: str) -> str:
    from datetime import UTC

    from bot.services.prepare import prepare_article
    from bot.sources.posts import parse_post

    path = CORPUS / "articles" / f"{number}.md"
    raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
    return prepare_article(raw, max_chars=150).summary.text


@pytest.mark.parametrize(
    ("number", "fact"),
    [
        # "…4：3…战胜三狮军团，历史第2次捧起德劳内杯", then "…战胜英格兰队…第二次捧起德劳内杯"
        ("0007", "德劳内杯"),
        # "以1胜2平的战绩获得亚军", then "此役过后，中国女足1胜2平获得东亚杯亚军"
        ("0014", "亚军"),
    ],
)
def test_a_summary_says_a_fact_once_even_in_other_words(number: str, fact: str) -> None:
    """The reports restate their result further down in other words; a reader given 150 characters wants
    something new instead."""
    if not (CORPUS / "articles").is_dir():
        pytest.skip(f"../shared/corpus not found at {CORPUS}")
    summary = _prepared_summary(number)
    assert summary.count(fact) == 1, summary
    assert len(summary) > 100  # the room went to other sentences


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        ("0035", "额外命令"),
        ("0039", "长三乙火箭升空"),
        ("0050", "拜登喊话支持美联储调整政策"),
        ("0054", "话题标签"),
    ],
)
def test_a_summary_does_not_end_with_a_heading_or_caption(number: str, fragment: str) -> None:
    if not (CORPUS / "articles").is_dir():
        pytest.skip(f"../shared/corpus not found at {CORPUS}")
    summary = _prepared_summary(number)
    assert fragment not in summary, summary
    assert summary.endswith(("。", "！", "？", "”")), summary
