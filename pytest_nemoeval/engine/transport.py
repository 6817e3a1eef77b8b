"""The one HTTP transport (aiohttp: the fastest client measured, see benchmarks/throughput.py).

No connection cap (aiohttp's default of 100 would silently bound --parallelism), one timeout per attempt: for the
whole reply, or for a streamed one (server-sent events) for each wait, for the reply to begin and then between two
of its chunks, so that a long generation that keeps streaming is never cut and one that stalls is a timeout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp


class ConnectionFailure(Exception):
    """The endpoint could not be reached or dropped the connection (counts towards fail-fast)."""


class AttemptTimeout(Exception):
    """One attempt took longer than --request-timeout."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    streamed: bool = False  # the body was server-sent events, handed to `events` as they came (body empty)


class Transport:
    def __init__(self, headers: dict[str, str], timeout: float) -> None:
        self._headers = headers
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._idle = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Transport":
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, headers=self._headers, timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, payload: dict[str, Any],
                   events: Callable[[bytes], bool] | None = None) -> HttpResponse:
        """With `events`: a reply of server-sent events gives each `data:` payload to it, until it returns False."""
        return await self._request("POST", url, payload, events)

    async def get(self, url: str) -> HttpResponse:
        return await self._request("GET", url, None)

    async def _request(self, method: str, url: str, payload: dict[str, Any] | None,
                       events: Callable[[bytes], bool] | None = None) -> HttpResponse:
        assert self._session is not None
        timeout = self._timeout if events is None else self._idle
        try:
            async with self._session.request(method, url, json=payload, timeout=timeout) as response:
                if events is None or response.status != 200 or response.content_type != "text/event-stream":
                    body = await response.read()
                    return HttpResponse(response.status, dict(response.headers), body)
                await _read_events(response, events)
                return HttpResponse(response.status, dict(response.headers), b"", streamed=True)
        except asyncio.TimeoutError:
            raise AttemptTimeout("no response within the request timeout") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise ConnectionFailure(_describe(exc)) from None


async def _read_events(response: aiohttp.ClientResponse, events: Callable[[bytes], bool]) -> None:
    """Each `data:` line's payload to `events` until it returns False or the stream ends (lines of any length:
    aiohttp's own line reader refuses one over 128 KiB)."""
    pending = b""
    async for block in response.content.iter_any():
        *lines, pending = (pending + block).split(b"\n")
        for line in lines:
            if line.startswith(b"data:") and not events(line[5:].strip()):
                return
    if pending.startswith(b"data:"):
        events(pending[5:].strip())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or exc.os_error})" if exc.os_error else "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
