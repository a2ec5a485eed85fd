"""The lifecycle the fake servers share: an aiohttp application on 127.0.0.1 and a free port."""

from __future__ import annotations

from typing import Self

from aiohttp import web


class LocalServer:
    """Subclasses build `self._app` in their constructor; `start()` returns the URL clients are given."""

    # appended to http://host:port, e.g. "/bot" for PTB's base_url or "/v1" for the OpenAI client
    URL_SUFFIX = ""

    _app: web.Application
    _runner: web.AppRunner | None = None
    base_url = ""

    async def start(self) -> str:
        # A short shutdown_timeout: closing must not wait for deliberately slow handlers or open long polls.
        self._runner = web.AppRunner(self._app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}{self.URL_SUFFIX}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
