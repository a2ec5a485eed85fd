"""URL checks shared by sources, services and rendering.

Holds `is_http_url`, the one answer to "is this an absolute http(s) URL?". Pure: no network, no settings.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["is_http_url"]

_HTTP_SCHEMES = frozenset({"http", "https"})


def is_http_url(url: str) -> bool:
    """True when `url` is an absolute URL with scheme http or https (any case) and a host name.

    Relative links, protocol-relative ones (`//host/path`), other schemes (javascript:, data:, ftp:, mailto:),
    URLs without a host (`http:///path`, `http://:80/`) and ones urlsplit refuses (`http://[::1`) are not.
    Only the scheme and host are judged: the caller decides what else (white space, length) it tolerates.
    """
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in _HTTP_SCHEMES and bool(parts.hostname)
    except ValueError:
        return False
