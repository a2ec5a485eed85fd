"""The shared corpus beside the checkout, and what its SOURCES.md labels: which posts report the same story.

SOURCES.md is the one place the groups are written down; the stories benchmark and the tests read them from
there rather than keeping copies of the list.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ARTICLES = CORPUS / "articles"
SOURCES = CORPUS / "SOURCES.md"

_SECTION = re.compile(r"^- Same story in several files.*?(?=^\S|^- |\Z)", re.MULTILINE | re.DOTALL)
_GROUP = re.compile(r"\b(\d{4}(?:/\d{4})+) \(")


@lru_cache(maxsize=1)
def labelled_story_groups(sources: Path = SOURCES) -> tuple[tuple[str, ...], ...]:
    """The post numbers of each labelled group ("0001/0002/0003 (人造太阳: …)"), in the order written.

    Raises FileNotFoundError without the corpus, and ValueError when the section is gone or names no group
    (a rewritten SOURCES.md must not silently make every pair "different stories")."""
    text = sources.read_text(encoding="utf-8")
    section = _SECTION.search(text)
    groups = tuple(tuple(found.split("/")) for found in _GROUP.findall(section.group(0) if section else ""))
    if not groups:
        raise ValueError(f"{sources}: no 'Same story in several files' groups found")
    return groups
