"""python-telegram-bot's networking backend on aiohttp: the Bot API calls newsbot makes, sent as JSON.

PTB lets an application bring its own backend (`telegram.request.BaseRequest`, "implement `do_request`");
this is one. Why: measured against the local fake Bot API server, a `Bot` on PTB's default httpx backend
spends about 1.3 ms of CPU per sendMessage (httpcore's connection pool checks every connection per request,
and the form encoding quotes the text byte by byte), and sends about 790 messages/s with 8 in flight and 570/s
with 32; on this backend the same `Bot` sends about 3,000/s, with 8 or 32 in flight. The outbox sender is
bound by that CPU, so this is what lets one process send hundreds of messages a second.

Parameters go as a JSON body (Telegram accepts `application/json`); uploads (which newsbot does not make) as
multipart form data. Transport failures become PTB's own errors as its httpx backend raises them: a timeout is
`TimedOut`, anything else `NetworkError`; Telegram's error answers are turned into `BadRequest`, `Forbidden`,
`RetryAfter` ... by PTB itself (`BaseRequest` reads the status and the body).

Long polling (`getUpdates`) keeps PTB's httpx backend (see `bot.app.build_application`).
"""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

DEFAULT_TIMEOUT = 5.0  # seconds, for connecting and for each read, as PTB's httpx backend has


class AiohttpRequest(BaseRequest):
    """A PTB request backend over one `aiohttp.ClientSession` with up to `connections` connections."""

    def __init__(self, *, connections: int = 32, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._connections = connections
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections)
            headers = {"User-Agent": self.USER_AGENT}
            self._session = aiohttp.ClientSession(connector=connector, headers=headers)

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._seconds(pool_timeout),  # waiting for a free connection and making one
            sock_connect=self._seconds(connect_timeout),
            sock_read=self._seconds(read_timeout),
        )
        data, headers = self._body(request_data)
        try:
            request = self._session.request(method, url, timeout=timeout, data=data, headers=headers)
            async with request as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are asyncio.TimeoutError, i.e. TimeoutError
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _seconds(self, value: object) -> float | None:
        """A timeout PTB passes: seconds, None (no limit), or its "default" marker (ours then)."""
        if value is None or isinstance(value, int | float):
            return value
        return self._timeout

    @staticmethod
    def _body(request_data: RequestData | None) -> tuple[bytes | aiohttp.FormData | None, dict[str, str]]:
        """The request body and its headers: JSON, or a multipart form when files are uploaded."""
        if request_data is None:
            return None, {}
        if not request_data.contains_files:
            return request_data.json_payload, {"Content-Type": "application/json"}
        form = aiohttp.FormData()
        for name, value in request_data.json_parameters.items():
            form.add_field(name, value)
        for name, upload in request_data.multipart_data.items():
            filename, content, *mimetype = upload
            form.add_field(name, content, filename=filename, content_type=mimetype[0] if mimetype else None)
        return form, {}

