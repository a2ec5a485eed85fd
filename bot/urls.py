"""URL checks shared by sources, services and rendering.

Holds `is_http_url`, the one answer to "is this an absolute http(s) URL?", and the address policy for fetching
feeds: `address_refusal` says why an IP address is no place to fetch from (loopback, private, link-local...),
`literal_host_address` reads the address a host name spells out (also the decimal, hex and octal IPv4 forms
that `inet_aton` accepts) and `url_host_refusal` puts both together for a URL. Pure: no network, no settings;
resolving names is the fetcher's job (bot.sources.feeds).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["IPAddress", "address_refusal", "is_http_url", "literal_host_address", "url_host_refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HTTP_SCHEMES = frozenset({"http", "https"})
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: neither private nor global
# IPv6 addresses that carry an IPv4 one a gateway or the host's own stack may deliver to: 6to4 (2002::/16,
# the IPv4 address in bits 16-48) and the NAT64 well-known prefix (64:ff9b::/96, in the last 32 bits).
# Python calls 2002:7f00:1:: global; it is judged as 127.0.0.1 here.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


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


def _ipv4_number(part: str) -> int | None:
    # inet_aton reads each part as C does: 0x.. hex, 0.. octal, else decimal
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if part[2:] else 0
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isascii() and part.isdigit() else None
    except ValueError:
        return None


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address `host` spells in any form inet_aton accepts (2130706433, 0x7f000001, 0177.0.0.1, 127.1)."""
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *leading, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = 0
    for n in leading:
        value = value << 8 | n
    return ipaddress.IPv4Address(value << 8 * (4 - len(leading)) | last)


def literal_host_address(host: str) -> IPAddress | None:
    """The IP address `host` (as urlsplit's `.hostname` gives it: no brackets) is, or None for a name."""
    host = host.strip().lower()
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) says nothing
    except ValueError:
        return _loose_ipv4(host)


def address_refusal(address: IPAddress) -> str | None:
    """Why a feed must not be fetched from `address` ("127.0.0.1 is a loopback address"), or None when the
    address is public. An IPv6 address carrying an IPv4 one (IPv4-mapped ::ffff:127.0.0.1, 6to4 2002:7f00:1::,
    NAT64 64:ff9b::7f00:1) is judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and address in _NAT64:
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            return address_refusal(carried)
    kind = (
        "an unspecified"
        if address.is_unspecified
        else "a loopback"
        if address.is_loopback
        else "a link-local"
        if address.is_link_local
        else "a multicast"
        if address.is_multicast
        else "a unique-local"
        if address in _UNIQUE_LOCAL
        else "a site-local"
        if isinstance(address, ipaddress.IPv6Address) and address.is_site_local
        else "a reserved"
        if address.is_reserved
        else "a private"
        if address.is_private or address in _SHARED
        else "a non-public"
        if not address.is_global
        else None
    )
    return None if kind is None else f"{address} is {kind} address"


def url_host_refusal(url: str) -> str | None:
    """Why the host of `url` is no place to fetch a feed from, judged without DNS: a literal address (in any
    form) that `address_refusal` refuses, or `localhost` and its subdomains. None for every other name (the
    fetcher checks what those resolve to) and for URLs that have no host."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback address"
    address = literal_host_address(host)
    return None if address is None else address_refusal(address)
