"""is_http_url: the one "is this an absolute http(s) URL?" check, and the call sites that now agree on it."""

from __future__ import annotations

import pytest

from bot.services.feeds import FeedError, validate_feed_url
from bot.services.prepare import canonical_link
from bot.urls import is_http_url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://example.com/path?q=1#frag",
        "HTTPS://Example.COM/",
        "Http://example.com:8080/feed.xml",
        "https://user:pass@example.com/",
        "http://127.0.0.1/",
        "http://[::1]/feed",
        "https://例子.中国/新闻",
    ],
)
def test_http_urls_with_a_host_are_accepted(url: str) -> None:
    assert is_http_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com",
        "/relative/path",
        "//example.com/protocol-relative",
        "ftp://example.com/file",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "mailto:someone@example.com",
        "file:///etc/passwd",
        "http:/example.com",
        "http:///path-only",
        "https://",
        "http://:80/",
        "http://user@/",
        "http://[::1",  # urlsplit raises ValueError; the check answers False instead
        "httpx://example.com",
    ],
)
def test_everything_else_is_rejected(url: str) -> None:
    assert not is_http_url(url)


def test_call_sites_agree_on_an_upper_case_scheme() -> None:
    # validate_feed_url used to compare the scheme case-sensitively while every other site did not
    assert validate_feed_url("  HTTPS://example.com/feed.xml ") == "HTTPS://example.com/feed.xml"
    assert canonical_link("HTTPS://Example.com/a") == "https://example.com/a"


def test_call_sites_agree_on_a_url_without_a_host_name() -> None:
    with pytest.raises(FeedError):
        validate_feed_url("http://:80/feed")
    assert canonical_link("http://:80/a") is None
