"""TXT records for checking who sent a message: DKIM keys and DMARC policies.

dnspython asks the system's resolver, or the server the settings name
(`HELPDESK_DNS_SERVER`, "host" or "host:port"). Answers are cached for their TTL (at most
an hour), and names that do not exist for five minutes, so a busy sender's key is looked
up once, not for every message. A lookup that fails (timeout, no server) is not cached
and answers None: the signature it was for does not verify, and the message is treated
as unverified rather than trusted.

Synchronous: dkimpy calls it as its `dnsfunc`, from a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import dns.exception
import dns.resolver

log = logging.getLogger(__name__)

MAX_TTL = 3600.0
NEGATIVE_TTL = 300.0
MAX_ENTRIES = 10_000


def server_address(spec: str) -> tuple[str, int]:
    """"host", "host:port" or "[v6]:port" as (host, port); port 53 by default."""
    if spec.startswith("["):  # [::1]:53
        host, _, port = spec[1:].partition("]:")
        return host.rstrip("]"), int(port or 53)
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, 53


class TxtLookup:
    """`lookup(name)`: the first TXT record of `name` (its strings joined), or None;
    `lookup.records(name)`: all of them."""

    def __init__(self, server: str | None = None, *, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if server:
            host, port = server_address(server)
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [host]
            self._resolver.port = port
        else:
            self._resolver = dns.resolver.Resolver()
        self._timeout = timeout
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, list[bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, name: bytes | str, timeout: float | None = None) -> bytes | None:
        found = self.records(name, timeout=timeout)
        return found[0] if found else None

    def records(self, name: bytes | str, *, timeout: float | None = None) -> list[bytes]:
        key = (name.decode("ascii", "replace") if isinstance(name, bytes) else name)
        key = key.rstrip(".").lower()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(key)
                return cached[1]
        try:
            answer = self._resolver.resolve(key, "TXT", lifetime=timeout or self._timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return self._keep(key, [], NEGATIVE_TTL, now)
        except (dns.exception.DNSException, OSError) as exc:
            log.warning("TXT lookup of %s failed: %s", key, type(exc).__name__)
            return []
        records = [b"".join(rdata.strings) for rdata in answer]  # type: ignore[attr-defined]
        ttl = answer.rrset.ttl if answer.rrset is not None else 0
        return self._keep(key, records, min(float(ttl), MAX_TTL), now)

    def _keep(self, key: str, records: list[bytes], ttl: float, now: float) -> list[bytes]:
        with self._lock:
            self._cache[key] = (now + ttl, records)
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_ENTRIES:
                self._cache.popitem(last=False)
        return records
