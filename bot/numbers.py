"""Numbers typed by people or carried by buttons: ASCII digits only, within bounds, or nothing.

`str.isdigit` is not enough: it accepts '²' and other digits `int` refuses, and `int` itself takes '١٢',
'1_000' and numbers too big for the database. Everything that turns user text into an int goes through here.
"""

from __future__ import annotations

# more digits than any bound here needs; refusing longer text early keeps `int` away from huge strings
MAX_DIGITS = 18

# the largest id both databases store in an INTEGER column
MAX_ROW_ID = 2**31 - 1


def parse_bounded_int(text: str, *, low: int, high: int) -> int | None:
    """The number `text` spells in ASCII digits when it is within low..high (both included), else None."""
    if not 0 < len(text) <= MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if low <= number <= high else None
