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
