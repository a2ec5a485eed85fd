"""The aiohttp side of fetching feeds from public addresses only: a resolver that refuses private answers, and
the connector that uses it (`bot.sources.feeds.feed_http_session` builds sessions on it).

Kept apart from bot.sources.feeds so that parsing a feed does not import aiohttp.
"""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.sources.feeds import AddressRefused
from bot.urls import address_refusal, literal_host_address


class PublicAddressResolver(AbstractResolver):
    """Wraps another aiohttp resolver (the default one unless given) and refuses a host when any address it
    resolves to is loopback, private, link-local, unique-local, multicast, reserved or unspecified.

    It runs at connect time, for every connection and so for every redirect hop: a name that rebinds to a
    private address between our check and the connection is refused too. aiohttp does not ask the resolver
    about literal addresses; `fetch_feed` checks those itself.
    """

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._owns_inner = inner is None
        self._inner = inner if inner is not None else aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = literal_host_address(result["host"])
            reason = f"{result['host']} is not an IP address" if address is None else address_refusal(address)
            if reason is not None:
                raise AddressRefused(reason)
        return results

    async def close(self) -> None:
        if self._owns_inner:  # one passed in is closed by whoever made it, as TCPConnector does
            await self._inner.close()


class FeedConnector(aiohttp.TCPConnector):
    """A TCPConnector connecting only to public addresses (PublicAddressResolver) unless `allow_private`."""

    def __init__(self, *, allow_private: bool, resolver: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self._guard = None if allow_private else PublicAddressResolver(resolver)
        super().__init__(resolver=self._guard or resolver)

    async def close(self, *, abort_ssl: bool = False) -> None:
        await super().close(abort_ssl=abort_ssl)
        if self._guard is not None:  # ours, so TCPConnector leaves it open
            await self._guard.close()
