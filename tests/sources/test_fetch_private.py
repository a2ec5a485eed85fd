"""Feeds on private addresses are refused (issue #11): literal hosts in every spelling, names that resolve to
private addresses (checked by the connector, so at connect time), and every redirect hop.

The local feed server listens on 127.0.0.1, which is exactly what must be refused; tests that need it to pass
for a public host say so with the `loopback_one_is_public` fixture.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

import bot.sources.feed_http
import bot.sources.feeds
import bot.urls
from bot.composition import _fetch_limits
from bot.config import Settings
from bot.sources.feed_http import PublicAddressResolver
from bot.sources.feeds import AddressRefused, feed_http_session, fetch_feed
from bot.sources.types import FeedFetchError
from bot.urls import IPAddress, url_host_refusal
from tests.fakes.feed_server import CONDITIONAL_FEED_TITLE, FeedServer

PUBLIC_NAME = "feeds.example.com"


class MapResolver(AbstractResolver):
    """Answers from a fixed table, the way a hostile (or rebinding) DNS server would; unknown names fail."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self._table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self._table:
            raise OSError(f"{host}: no such name")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self._table[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def loopback_one_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let 127.0.0.1, and only it, pass for a public address, so that the local feed server can play a public
    host whose redirects (or DNS answers) point somewhere private."""
    refusal = bot.urls.address_refusal

    def address_refusal(address: IPAddress) -> str | None:
        return None if address == ipaddress.ip_address("127.0.0.1") else refusal(address)

    monkeypatch.setattr(bot.urls, "address_refusal", address_refusal)
    monkeypatch.setattr(bot.sources.feeds, "address_refusal", address_refusal)
    monkeypatch.setattr(bot.sources.feed_http, "address_refusal", address_refusal)


async def refused(session: aiohttp.ClientSession, url: str, **kwargs: bool) -> str:
    with pytest.raises(FeedFetchError) as caught:
        await fetch_feed(session, url, timeout=5.0, **kwargs)
    assert caught.value.where == url
    assert "\n" not in str(caught.value)
    return caught.value.reason


def port_of(server: FeedServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


# --- the policy, without the network --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/feed", "127.0.0.1 is a loopback address"),
        ("http://localhost:8080/feed", "localhost is a loopback address"),
        ("http://LOCALHOST./feed", "localhost is a loopback address"),
        ("http://[::1]:8080/feed", "::1 is a loopback address"),
        ("http://0x7f000001:8080/feed", "127.0.0.1 is a loopback address"),
        ("http://2130706433/feed", "127.0.0.1 is a loopback address"),
        ("http://0177.0.0.1/feed", "127.0.0.1 is a loopback address"),
        ("http://127.1/feed", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/feed", "127.0.0.1 is a loopback address"),
        # IPv6 addresses that carry an IPv4 one (Python calls the first two global)
        ("http://[2002:7f00:1::]/feed", "127.0.0.1 is a loopback address"),  # 6to4
        ("http://[2002:c0a8:101::1]/feed", "192.168.1.1 is a private address"),
        ("http://[64:ff9b::a9fe:a9fe]/feed", "169.254.169.254 is a link-local address"),  # NAT64
        ("http://[fec0::1]/feed", "fec0::1 is a site-local address"),  # deprecated, still routed on some LANs
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[fe80::1%25eth0]/feed", "fe80::1 is a link-local address"),
        ("http://10.0.0.1/feed", "10.0.0.1 is a private address"),
        ("http://192.168.1.1/feed", "192.168.1.1 is a private address"),
        ("http://172.16.0.1/feed", "172.16.0.1 is a private address"),
        ("http://100.64.0.1/feed", "100.64.0.1 is a private address"),
        ("http://[fd12:3456::1]/feed", "fd12:3456::1 is a unique-local address"),
        ("http://224.0.0.1/feed", "224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/feed", "240.0.0.1 is a reserved address"),
        ("http://0.0.0.0/feed", "0.0.0.0 is an unspecified address"),
        ("http://[::]/feed", ":: is an unspecified address"),
    ],
)
def test_private_hosts_are_named(url: str, reason: str) -> None:
    assert url_host_refusal(url) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/feed",
        "http://[2606:4700::1111]/feed",
        "http://[2002:808:808::1]/feed",  # 6to4 of 8.8.8.8
        "http://[64:ff9b::808:808]/feed",  # NAT64 of 8.8.8.8, how an IPv6-only host reaches it
        "https://example.com/feed",
        "http://1.2.3.4.5/feed",  # not an address: a name, for the resolver to judge
        "not a url",
    ],
)
def test_public_hosts_and_names_pass_the_literal_check(url: str) -> None:
    assert url_host_refusal(url) is None


async def test_resolver_refuses_any_private_answer() -> None:
    # one private answer among public ones is enough: the connection could be made to any of them
    resolver = PublicAddressResolver(
        MapResolver({PUBLIC_NAME: ["93.184.216.34", "10.0.0.5"], "ok.example": ["1.1.1.1"]})
    )
    with pytest.raises(AddressRefused, match=r"^refused: 10\.0\.0\.5 is a private address$"):
        await resolver.resolve(PUBLIC_NAME, 80)
    assert [r["host"] for r in await resolver.resolve("ok.example", 80)] == ["1.1.1.1"]


def test_settings_reach_the_fetch_limits() -> None:
    settings = Settings(telegram_bot_token="1:x", database_url="sqlite+aiosqlite://")
    assert (settings.fetch_allow_private, settings.fetch_max_items) == (False, 200)
    limits = _fetch_limits(settings)
    assert (limits.allow_private, limits.max_items) == (False, 200)
    opened = Settings(
        telegram_bot_token="1:x",
        database_url="sqlite+aiosqlite://",
        fetch_allow_private=True,
        fetch_max_items=50,
    )
    assert (_fetch_limits(opened).allow_private, _fetch_limits(opened).max_items) == (True, 50)


def test_allow_private_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FETCH_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("FETCH_MAX_ITEMS", "30")
    settings = Settings(telegram_bot_token="1:x", database_url="sqlite+aiosqlite://")
    assert (settings.fetch_allow_private, settings.fetch_max_items) == (True, 30)


# --- fetching ---------------------------------------------------------------------------------------


async def test_local_feed_server_is_refused_by_default(
    feed_server: FeedServer, http: aiohttp.ClientSession
) -> None:
    url = feed_server.url("/conditional.xml")
    assert await refused(http, url) == "refused: 127.0.0.1 is a loopback address"
    assert feed_server.count("/conditional.xml") == 0
    assert (await fetch_feed(http, url, allow_private=True)).status == 200


@pytest.mark.parametrize("host", ["localhost", "[::1]", "0x7f000001", "2130706433", "0177.0.0.1"])
async def test_other_spellings_of_loopback_are_refused(
    feed_server: FeedServer, http: aiohttp.ClientSession, host: str
) -> None:
    reason = await refused(http, f"http://{host}:{port_of(feed_server)}/conditional.xml")
    assert reason.startswith("refused: ")
    assert reason.endswith(" is a loopback address")
    assert feed_server.count("/conditional.xml") == 0


@pytest.mark.parametrize("guarded", [False, True], ids=["plain session", "feed_http_session"])
async def test_the_machines_own_name_is_refused(
    feed_server: FeedServer, http: aiohttp.ClientSession, guarded: bool
) -> None:
    """Real DNS: the machine's own name resolves (through /etc/hosts, usually) to one of its own addresses.
    fetch_feed resolves it itself on a plain session; a feed session's resolver refuses it at connect time."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)}
    except OSError:
        pytest.skip(f"{name} does not resolve here")
    if any(url_host_refusal(f"http://[{a}]/" if ":" in a else f"http://{a}/") is None for a in addresses):
        pytest.skip(f"{name} resolves to a public address here")
    url = f"http://{name}:{port_of(feed_server)}/conditional.xml"
    if guarded:
        async with feed_http_session(False) as session:
            reason = await refused(session, url)
    else:
        reason = await refused(http, url)
    assert reason.startswith("refused: ")
    assert feed_server.count("/conditional.xml") == 0


@pytest.fixture
async def hostile_dns(feed_server: FeedServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A guarded feed session whose DNS answers 127.0.0.1 for a public-looking name."""
    async with feed_http_session(False, resolver=MapResolver({PUBLIC_NAME: ["127.0.0.1"]})) as session:
        yield session


async def test_public_name_resolving_to_loopback_is_refused_at_connect_time(
    feed_server: FeedServer, hostile_dns: aiohttp.ClientSession
) -> None:
    url = f"http://{PUBLIC_NAME}:{port_of(feed_server)}/conditional.xml"
    assert await refused(hostile_dns, url) == "refused: 127.0.0.1 is a loopback address"
    assert feed_server.count("/conditional.xml") == 0


async def test_public_name_resolving_to_loopback_is_fetched_when_private_is_allowed(
    feed_server: FeedServer,
) -> None:
    url = f"http://{PUBLIC_NAME}:{port_of(feed_server)}/conditional.xml"
    async with feed_http_session(True, resolver=MapResolver({PUBLIC_NAME: ["127.0.0.1"]})) as session:
        result = await fetch_feed(session, url, allow_private=True)
    assert result.status == 200
    assert CONDITIONAL_FEED_TITLE.encode() in result.content
    assert feed_server.count("/conditional.xml") == 1


@pytest.mark.usefixtures("loopback_one_is_public")
@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://localhost:{port}/conditional.xml", "localhost is a loopback address"),
        ("http://[::1]:{port}/conditional.xml", "::1 is a loopback address"),
        ("http://0x7f000002:{port}/conditional.xml", "127.0.0.2 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.1.2.3/feed", "10.1.2.3 is a private address"),
    ],
)
async def test_redirect_to_a_private_address_is_refused(
    feed_server: FeedServer, http: aiohttp.ClientSession, location: str, reason: str
) -> None:
    feed_server.add_redirect("/away", "/to-private")
    feed_server.add_redirect("/to-private", location.format(port=port_of(feed_server)))
    assert await refused(http, feed_server.url("/away")) == f"refused: {reason}"
    assert feed_server.count("/to-private") == 1  # the public hops were followed, the private one not
    assert feed_server.count("/conditional.xml") == 0


@pytest.mark.usefixtures("loopback_one_is_public")
async def test_redirect_to_a_name_resolving_privately_is_refused_at_connect_time(
    feed_server: FeedServer,
) -> None:
    # what DNS rebinding looks like from here: the second hop's name answers with a private address
    table = {PUBLIC_NAME: ["127.0.0.1"], "rebind.example.com": ["10.9.8.7"]}
    feed_server.add_redirect("/rebind", f"http://rebind.example.com:{port_of(feed_server)}/conditional.xml")
    async with feed_http_session(False, resolver=MapResolver(table)) as session:
        reason = await refused(session, f"http://{PUBLIC_NAME}:{port_of(feed_server)}/rebind")
    assert reason == "refused: 10.9.8.7 is a private address"
    assert feed_server.count("/rebind") == 1
    assert feed_server.count("/conditional.xml") == 0


async def test_redirect_to_another_scheme_is_refused(
    feed_server: FeedServer, http: aiohttp.ClientSession
) -> None:
    feed_server.add_redirect("/to-file", "file:///etc/passwd")
    reason = await refused(http, feed_server.url("/to-file"), allow_private=True)
    assert reason == "redirected to a non-http URL: file:"
