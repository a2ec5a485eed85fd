"""Parse the publication dates that posts and feeds write, into timezone-aware UTC datetimes.

Accepted: RFC 2822 ("Mon, 12 Jul 2021 07:25:10 GMT"), ISO 8601 ("2021-07-12T07:25:10+08:00", "...Z"),
"YYYY-MM-DD HH:MM:SS" with or without a zone, datetime/date objects (as YAML produces them) and Unix
timestamps. A time without a zone is local time in `default_tz`. Unparseable input gives None: a bad
date must not cost us the article.
"""

from __future__ import annotations

import email.utils
import re
import warnings
from datetime import UTC, date, datetime, time, tzinfo

from dateutil import parser as dateutil_parser

# dateutil fills missing fields from "today"; only let it guess when a full year is written, so the
# result never depends on the clock.
_HAS_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)")

_EARLIEST, _LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)

# Unix timestamps between 2000-01-01 and 2100-01-01; smaller numbers are more likely years or junk.
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800


def _aware(value: datetime, default_tz: tzinfo) -> datetime | None:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=default_tz)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):  # "0001-01-01" east of UTC, "9999-12-31" west of it: no UTC time
        return None


def _from_rfc2822(text: str, default_tz: tzinfo) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None and text.rstrip().endswith("-0000"):
        # RFC 2822: "-0000" is UTC with the sender's zone unknown, not local time.
        return parsed.replace(tzinfo=UTC)
    return _aware(parsed, default_tz)


def _from_iso(text: str, default_tz: tzinfo) -> datetime | None:
    try:
        # Python 3.11 reads "Z", a space separator, and date-only strings.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _aware(parsed, default_tz)


def _from_dateutil(text: str, default_tz: tzinfo) -> datetime | None:
    if not _HAS_YEAR.search(text):
        return None
    with warnings.catch_warnings():
        # Unknown zone names ("CST") warn and are dropped; the time is then read in default_tz.
        warnings.simplefilter("ignore")
        try:
            # Only fills fields the text lacks (a year is always present); the zone is handled below.
            parsed = dateutil_parser.parse(text, default=datetime(2000, 1, 1))  # noqa: DTZ001
        except (ValueError, OverflowError, TypeError):
            return None
    return _aware(parsed, default_tz)


def parse_date(value: object, *, default_tz: tzinfo) -> datetime | None:
    """Return `value` as an aware UTC datetime, or None when it cannot be read as a date of news (years
    1900 to 2999: "0001-01-01" is a placeholder, and dates near the calendar's ends break date arithmetic)."""
    parsed = _parse(value, default_tz)
    return parsed if parsed is not None and _EARLIEST <= parsed < _LATEST else None


def _parse(value: object, default_tz: tzinfo) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _aware(value, default_tz)
    if isinstance(value, date):
        return _aware(datetime.combine(value, time()), default_tz)
    if isinstance(value, int | float):
        if _EPOCH_MIN <= value < _EPOCH_MAX:
            return datetime.fromtimestamp(value, UTC)
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return _parse(int(text), default_tz)
    return _from_iso(text, default_tz) or _from_rfc2822(text, default_tz) or _from_dateutil(text, default_tz)
