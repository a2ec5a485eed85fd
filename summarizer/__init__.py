"""Offline text processing for newsbot: clean article bodies, strip publisher boilerplate, split sentences,
summarize, tag.

Everything here is a pure, synchronous, deterministic function of its arguments: no database, no
network, no settings, no clock. It must not import from `bot/` or `db/`. An LLM-backed summarizer,
if added, lives in `llm.py` behind the same `summarize(...) -> Summary` shape.
"""

from summarizer.analysis import Analysis, analyze
from summarizer.boilerplate import strip_boilerplate
from summarizer.clean import CleanText, html_to_text, markdown_to_text
from summarizer.extractive import EXTRACTIVE_VERSION, Summary, summarize
from summarizer.language import detect_language
from summarizer.sentences import split_sentences
from summarizer.tags import extract_tags

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
