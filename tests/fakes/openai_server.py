"""A real local HTTP server speaking the OpenAI chat completions API, for tests that drive the real
`AsyncOpenAI`.

No mocks: tests give the client `base_url=fake.base_url` (it ends in "/v1") and the real client talks HTTP
to it.
Answers use OpenAI's envelopes: `{"id", "object": "chat.completion", "created", "model", "choices": [...],
"usage": {...}}`, and `{"error": {"message", "type", "param", "code"}}` with the status code, so the client
raises its real exceptions (RateLimitError, InternalServerError, BadRequestError, APITimeoutError...).

    async with FakeOpenAI() as fake:              # or: await fake.start(); ...; await fake.close()
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
        fake.script(rate_limited(retry_after="0.05"), answer())   # the next requests, in order
        fake.default = server_error()                             # every request after the script
        fake.json_mode = False                    # 400 for any request with response_format,
                                                  # like many servers
        fake.count                                # requests answered so far; fake.requests holds their bodies

    with FakeOpenAI().in_thread() as fake:        # for synchronous tests (the CLI runs its own event loop)
        ...

Behaviours (each answers one request): `answer()` (valid JSON in the language the prompt asks for),
`content(text)` (any text as the message content: garbage, fenced JSON, ""), `too_long()`, `wrong_language()`,
`echo_url()` (obeys a prompt injection), `error(status, ...)`, `rate_limited(retry_after)`, `server_error()`,
`slow(delay)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer

Behaviour = Callable[[dict[str, Any]], Awaitable[web.Response]]

SUMMARIES = {
    "zh": "这是测试模型为这篇新闻写的摘要，简要说明了文章的主要内容。",
    "en": "This is a summary written by the test model, stating the main point of the story.",
}
TAGS = {"zh": ["科技", "新闻", "测试"], "en": ["technology", "news", "testing"]}
INJECTED_URL = "https://spam.example.com/win"
_ids = itertools.count(1)


def prompt_language(body: dict[str, Any]) -> str:
    """The language the newsbot prompt asks for ("Language: zh" in the user message); English otherwise."""
    for message in body.get("messages", []):
        found = re.search(r"^Language: (\w+)$", str(message.get("content", "")), re.M)
        if found:
            return found.group(1) if found.group(1) in SUMMARIES else "en"
    return "en"


def completion(body: dict[str, Any], text: str | None, *, finish_reason: str = "stop") -> web.Response:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
    done = len(text or "") // 4
    return web.json_response(
        {
            "id": f"chatcmpl-fake{next(_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done},
            "system_fingerprint": "fp_fake",
        }
    )


def error_response(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    envelope = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return web.json_response(envelope, status=status, headers=headers)


def _json_answer(summary: str, tags: list[str]) -> str:
    return json.dumps({"summary": summary, "tags": tags}, ensure_ascii=False)


def answer(summary: str | None = None, tags: list[str] | None = None) -> Behaviour:
    """A valid answer: a short summary and three tags in the language the prompt asks for."""

    async def respond(body: dict[str, Any]) -> web.Response:
        lang = prompt_language(body)
        return completion(body, _json_answer(summary or SUMMARIES[lang], tags or TAGS[lang]))

    return respond


def content(text: str | None) -> Behaviour:
    """This text, verbatim, as the message content (garbage, prose around JSON, "" or None)."""

    async def respond(body: dict[str, Any]) -> web.Response:
        return completion(body, text)

    return respond


def too_long(chars: int = 2000) -> Behaviour:
    async def respond(body: dict[str, Any]) -> web.Response:
        lang = prompt_language(body)
        text = (SUMMARIES[lang] * (chars // len(SUMMARIES[lang]) + 1))[:chars]
        return completion(body, _json_answer(text, TAGS[lang]))

    return respond


def wrong_language() -> Behaviour:
    async def respond(body: dict[str, Any]) -> web.Response:
        other = "en" if prompt_language(body) == "zh" else "zh"
        return completion(body, _json_answer(SUMMARIES[other], TAGS[other]))

    return respond


def echo_url(url: str = INJECTED_URL) -> Behaviour:
    """What a model does when it follows an article's instruction to reply with a link."""

    async def respond(body: dict[str, Any]) -> web.Response:
        lang = prompt_language(body)
        return completion(body, _json_answer(f"{SUMMARIES[lang][:30]} {url}", TAGS[lang]))

    return respond


def error(
    status: int, message: str = "", *, type: str = "server_error", code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Behaviour:
    async def respond(body: dict[str, Any]) -> web.Response:
        return error_response(status, message or f"status {status}", type=type, code=code, headers=headers)

    return respond


def rate_limited(retry_after: str | None = "0.05") -> Behaviour:
    headers = {"retry-after": retry_after} if retry_after is not None else None
    return error(
        429, "Rate limit reached for requests", type="requests", code="rate_limit_exceeded", headers=headers
    )


def server_error() -> Behaviour:
    return error(500, "The server had an error while processing your request.")


def raw(body: bytes, *, content_type: str = "text/html", status: int = 200) -> Behaviour:
    """These bytes as the whole response (a proxy's HTML page with status 200, "null", bytes not UTF-8)."""

    async def respond(request_body: dict[str, Any]) -> web.Response:
        return web.Response(body=body, status=status, headers={"Content-Type": content_type})

    return respond


def envelope(message_content: object, *, usage: object = None) -> Behaviour:
    """A completion whose content (a list, a number) or usage (text, a negative) is not what the API
    promises: the client reads it without checking the types."""

    async def respond(body: dict[str, Any]) -> web.Response:
        sent = json.loads((completion(body, "x")).text or "{}")
        sent["choices"][0]["message"]["content"] = message_content
        if usage is not None:
            sent["usage"] = usage
        return web.json_response(sent)

    return respond


def slow(delay: float, then: Behaviour | None = None) -> Behaviour:
    """Wait `delay` seconds, then answer; the client should give up first."""

    async def respond(body: dict[str, Any]) -> web.Response:
        await asyncio.sleep(delay)
        return await (then or answer())(body)

    return respond


def held(release: asyncio.Event, then: Behaviour | None = None) -> Behaviour:
    """Hold the request until `release` is set, then answer: a model thinking for as long as a test needs."""

    async def respond(body: dict[str, Any]) -> web.Response:
        await release.wait()
        return await (then or answer())(body)

    return respond


class FakeOpenAI(LocalServer):
    """An aiohttp.web server on 127.0.0.1 and a free port answering POST /v1/chat/completions."""

    URL_SUFFIX = "/v1"

    def __init__(self) -> None:
        self._app = web.Application()
        self._app.router.add_post("/v1/chat/completions", self._completions)
        self._runner: web.AppRunner | None = None
        self._script: deque[Behaviour] = deque()
        self.default: Behaviour = answer()
        self.json_mode = True  # False: reject response_format with 400, as servers without JSON mode do
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FakeOpenAI]:
        """Serve from an event loop of its own in a thread, for tests whose code under test calls
        asyncio.run."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.close(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with these behaviours, in order; then `default` again."""
        self._script.extend(behaviours)

    @property
    def count(self) -> int:
        return len(self.requests)

    async def _completions(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return error_response(400, "We could not parse the JSON body of your request.")
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization", ""))
        if not self.json_mode and "response_format" in body:
            return error_response(
                400,
                "Invalid parameter: 'response_format' is not supported by this model.",
                param="response_format",
            )
        behaviour = self._script.popleft() if self._script else self.default
        return await behaviour(body)
