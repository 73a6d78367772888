"""A small in-process rate limiter: token buckets per client, with several budgets at once.

Each client (an API user, else a network address) has one bucket per budget, for instance
"requests" and "items". A bucket holds up to ``per_minute`` tokens and refills continuously at
``per_minute / 60`` a second, so a client may spend a minute's budget in a burst and then as
fast as it refills. A request is admitted only when every budget it draws on has enough; then
all are charged at once, otherwise none is, and the caller learns how long to wait.

The state lives in this process: several workers each keep their own count, so the effective
limit is per worker. That suits one instance on one machine; a fleet would put the buckets in a
shared store instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request

from hallmark.errors import RateLimitedError
from hallmark.storage.models import User

#: Clients remembered at most. An idle client's buckets are full again after a minute, so
#: forgetting the least recently seen ones loses nothing once the table is this large.
MAX_CLIENTS = 50_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets for many clients, over named budgets (``{"requests": 60, ...}``)."""

    def __init__(
        self,
        per_minute: Mapping[str, int],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if not per_minute or min(per_minute.values()) < 1:
            raise ValueError("every budget needs at least one token a minute")
        self.per_minute = dict(per_minute)
        self._clock = clock
        self._max_clients = max_clients
        self._clients: OrderedDict[str, dict[str, _Bucket]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str, costs: Mapping[str, int]) -> float:
        """Charge ``costs`` to ``client``; 0 when admitted, else the seconds until it would be
        (nothing is charged then). A cost larger than its budget can never be admitted: the
        caller must check for that first (see :meth:`fits`)."""
        now = self._clock()
        with self._lock:
            buckets = self._clients.get(client)
            if buckets is None:
                buckets = {
                    name: _Bucket(float(size), now) for name, size in self.per_minute.items()
                }
                self._clients[client] = buckets
                self._forget_oldest()
            else:
                self._clients.move_to_end(client)
            wait = 0.0
            for name, amount in costs.items():
                size = self.per_minute[name]
                bucket = buckets[name]
                rate = size / 60.0
                bucket.tokens = min(size, bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
                if bucket.tokens < amount:
                    wait = max(wait, (amount - bucket.tokens) / rate)
            if wait > 0:
                return wait
            for name, amount in costs.items():
                buckets[name].tokens -= amount
            return 0.0

    def fits(self, costs: Mapping[str, int]) -> bool:
        """Whether a request of these costs could ever be admitted."""
        return all(amount <= self.per_minute[name] for name, amount in costs.items())

    def _forget_oldest(self) -> None:
        while len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)


def client_key(request: Request, user: User | None) -> str:
    """Who a request is charged to: the API user when a token was sent, else the address.

    Behind a reverse proxy the address is the proxy's unless the server is told to trust its
    forwarding headers (``uvicorn --proxy-headers --forwarded-allow-ips``).
    """
    if user is not None:
        return f"user:{user.id}"
    host = request.client.host if request.client else "unknown"
    return f"address:{host}"


def charge(buckets: TokenBuckets, client: str, costs: Mapping[str, int], what: str) -> None:
    """Charge ``costs``, or raise :class:`RateLimitedError` with the seconds to wait."""
    wait = buckets.take(client, costs)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimitedError(
            f"Too many {what} from this client; try again in {seconds} seconds.",
            hint="Send fewer requests or items a minute; the Retry-After header says when.",
            retry_after=seconds,
        )
