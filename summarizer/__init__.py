"""Offline text processing for newsbot: clean article bodies, strip publisher boilerplate, split sentences,
summarize, tag.

Everything here is a pure, synchronous, deterministic function of its arguments: no database, no
network, no settings, no clock. It must not import from `bot/` or `db/`. An LLM-backed summarizer,
if added, lives in `llm.py` behind the same `summarize(...) -> Summary` shape.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from summarizer.analysis import Analysis, analyze
    from summarizer.boilerplate import strip_boilerplate
    from summarizer.clean import CleanText, html_to_text, markdown_to_text
    from summarizer.extractive import EXTRACTIVE_VERSION, Summary, summarize
    from summarizer.language import detect_language
    from summarizer.sentences import split_sentences
    from summarizer.tags import extract_tags

# What the package re-exports, loaded on first use: a command that needs one helper (the search's query
# words, `one_line`) does not load the summarizer and the tagger with it (`newsbot latest`'s start-up).
_EXPORTS = {
    "Analysis": "summarizer.analysis",
    "analyze": "summarizer.analysis",
    "strip_boilerplate": "summarizer.boilerplate",
    "CleanText": "summarizer.clean",
    "html_to_text": "summarizer.clean",
    "markdown_to_text": "summarizer.clean",
    "EXTRACTIVE_VERSION": "summarizer.extractive",
    "Summary": "summarizer.extractive",
    "summarize": "summarizer.extractive",
    "detect_language": "summarizer.language",
    "split_sentences": "summarizer.sentences",
    "extract_tags": "summarizer.tags",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


__all__ = [
    "EXTRACTIVE_VERSION",
    "Analysis",
    "CleanText",
    "Summary",
    "analyze",
    "detect_language",
    "extract_tags",
    "html_to_text",
    "markdown_to_text",
    "split_sentences",
    "strip_boilerplate",
    "summarize",
]
