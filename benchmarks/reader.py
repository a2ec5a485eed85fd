"""Part 6, what a reader sees (issue #13): summaries that open with boilerplate, junk tags, and language
identification, each measured by its own module against a judge written apart from the code it judges.

    reader_boilerplate.py  the share of summaries opening with boilerplate (eval test split, corpus posts)
    reader_tags.py         junk tags per 100 articles (corpus posts, corpus feeds, eval test split)
    reader_language.py     language accuracy on the corpus feeds' entries, and its cost
"""

from __future__ import annotations

from benchmarks import reader_boilerplate, reader_language, reader_tags
from benchmarks.measure import PartResult


def run(*, quick: bool = False) -> PartResult:
    result = PartResult("6. What a reader sees")
    for module in (reader_boilerplate, reader_tags, reader_language):
        section, targets = module.measure(quick)
        result.add(section)
        result.targets += targets
    return result
