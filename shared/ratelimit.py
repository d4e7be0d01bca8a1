"""Rate limits for public endpoints: token buckets per client address and per key (a
survey link), kept in the process's memory.

Why not a library: the limit has to be taken before the request body is read and before
the database is asked about the link, keyed by a path parameter, and answered as an
``application/problem+json`` 429 with ``Retry-After``; slowapi (the usual FastAPI choice)
works as a decorator needing ``request`` in the endpoint's signature and answers in its
own format, and its storage backends add nothing for one process. This is ~60 lines with
its own tests (tests/shared/test_limits.py).

Limits are per process: with several processes behind a balancer each one counts alone
(the effective limit is multiplied), which still bounds what one client can make a
process do. Behind a proxy, run uvicorn with ``--proxy-headers`` and
``--forwarded-allow-ips`` so the client address is the real one.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from shared.errors import ProblemError
from shared.settings import Settings


class Buckets:
    """Token buckets by key: ``burst`` requests at once, refilled at ``per_minute``.

    At most ``max_keys`` buckets are kept; the least recently used is dropped first (a
    dropped bucket starts full again, so memory stays bounded whatever keys arrive).
    Not thread-safe: used from the event loop only.
    """

    def __init__(self, per_minute: float, burst: int, max_keys: int = 50_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        tokens, stamp = self._state.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._state[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate if self.rate > 0 else math.inf
        while len(self._state) > self.max_keys:
            self._state.popitem(last=False)
        return wait


class TooManyRequests(ProblemError):
    status, code, title = 429, "rate_limited", "Too many requests"


class RateLimiter:
    """Per-client and per-key limits for one family of public endpoints."""

    def __init__(
        self,
        *,
        client_per_minute: float,
        client_burst: int,
        key_per_minute: float,
        key_burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = Buckets(client_per_minute, client_burst)
        self.per_key = Buckets(key_per_minute, key_burst)
        self._clock = clock

    @classmethod
    def public(cls, settings: Settings) -> RateLimiter:
        return cls(
            client_per_minute=settings.public_rate_client_per_minute,
            client_burst=settings.public_rate_client_burst,
            key_per_minute=settings.public_rate_token_per_minute,
            key_burst=settings.public_rate_token_burst,
        )

    def check(self, client: str, key: str) -> None:
        """Count one request; raise a 429 problem with ``Retry-After`` when over a limit."""
        now = self._clock()
        wait = self.per_client.take(client, now)
        if wait == 0.0:
            # Bounded: a path parameter is at most a few hundred characters.
            wait = self.per_key.take(key[:256], now)
        if wait > 0.0:
            seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
            raise TooManyRequests(
                f"Too many requests; try again in {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )
