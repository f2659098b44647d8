"""Posting a webhook: aiohttp with a guard against server-side request forgery.

The URL's form is checked before every attempt (`check_url`: https, no credentials, no
literal private address); a name is resolved by `GuardedResolver`, which refuses the
whole name when any of its addresses is loopback, link-local, private or otherwise not
public (outside local development), and hands aiohttp only the addresses it checked, so
the connection goes to an address that was checked (no second lookup that a rebinding
DNS server could answer differently). Redirects are not followed (a 3xx is a failure),
no proxy or .netrc is read from the environment, and at most `MAX_READ` bytes of an
answer are read.

Names are resolved with dnspython against HELPDESK_DNS_SERVER when it is set (the tests'
local DNS server), else by the system's resolver.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import dns.asyncresolver
import dns.exception
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult

from shared.core.webhooks import UnsafeUrl, address_allowed, check_url
from shared.mail.dns import server_address

MAX_READ = 64 * 1024


class Refused(Exception):
    """The desk will not connect there (the message says why)."""


@dataclass(frozen=True)
class Result:
    code: int | None
    duration_ms: int
    error: str | None = None
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class GuardedResolver(AbstractResolver):
    def __init__(self, *, local: bool, dns_server: str | None, timeout: float = 5.0) -> None:
        self._local = local
        self._timeout = timeout
        self._resolver: dns.asyncresolver.Resolver | None = None
        if dns_server:
            host, port = server_address(dns_server)
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [host]
            self._resolver.port = port

    async def addresses(self, host: str, port: int = 0) -> list[str]:
        name = host.rstrip(".").lower()
        if name == "localhost" or name.endswith(".localhost"):
            return ["127.0.0.1", "::1"]
        if self._resolver is not None:
            found: list[str] = []
            for rdtype in ("A", "AAAA"):
                try:
                    answer = await self._resolver.resolve(name, rdtype, lifetime=self._timeout)
                except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                    continue
                except dns.exception.DNSException as exc:
                    raise OSError(f"cannot resolve {name}: {type(exc).__name__}") from None
                found += [rdata.to_text() for rdata in answer]
            return found
        infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self.addresses(host, port)
        if not found:
            raise OSError(f"{host} has no address")
        bad = [a for a in found if not address_allowed(a, local=self._local)]
        if bad:
            raise Refused(f"{host} resolves to {', '.join(bad)}, which is not a public address")
        return [ResolveResult(hostname=host, host=a, port=port,
                              family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST) for a in found]

    async def close(self) -> None:
        return None


class WebhookSender:
    """One connection pool per process (made inside the event loop on first use)."""

    def __init__(self, *, local: bool, dns_server: str | None, timeout: float) -> None:
        self._local = local
        self._dns_server = dns_server
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = GuardedResolver(local=self._local, dns_server=self._dns_server)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False,
                                               limit_per_host=4),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                trust_env=False, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Result:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            check_url(url, local=self._local)
        except UnsafeUrl as exc:
            return Result(None, 0, str(exc), refused=True)
        try:
            async with self._open().post(url, data=body, headers=headers,
                                         allow_redirects=False) as response:
                await response.content.read(MAX_READ)
                return Result(response.status, took(),
                              None if 200 <= response.status < 300
                              else f"answered {response.status}")
        except Refused as exc:
            return Result(None, took(), str(exc), refused=True)
        except TimeoutError:
            return Result(None, took(), f"no answer within {self._timeout:g} s")
        except aiohttp.ClientConnectorError as exc:
            cause: Any = exc.os_error
            if isinstance(cause, Refused) or isinstance(cause.__cause__, Refused):
                return Result(None, took(), str(cause), refused=True)
            return Result(None, took(), f"could not connect: {exc.os_error}")
        except (aiohttp.ClientError, OSError) as exc:
            return Result(None, took(), f"{type(exc).__name__}: {exc}"[:300])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
