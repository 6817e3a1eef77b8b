"""The one HTTP transport (aiohttp: the fastest client measured, see benchmarks/throughput.py).

No connection cap (aiohttp's default of 100 would silently bound --parallelism), one timeout per attempt.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

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


class Transport:
    def __init__(self, headers: dict[str, str], timeout: float) -> None:
        self._headers = headers
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Transport":
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, headers=self._headers, timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, payload: dict[str, Any]) -> HttpResponse:
        return await self._request("POST", url, payload)

    async def get(self, url: str) -> HttpResponse:
        return await self._request("GET", url, None)

    async def _request(self, method: str, url: str, payload: dict[str, Any] | None) -> HttpResponse:
        assert self._session is not None
        try:
            async with self._session.request(method, url, json=payload) as response:
                body = await response.read()
                return HttpResponse(response.status, dict(response.headers), body)
        except asyncio.TimeoutError:
            raise AttemptTimeout("no response within the request timeout") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise ConnectionFailure(_describe(exc)) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or exc.os_error})" if exc.os_error else "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
