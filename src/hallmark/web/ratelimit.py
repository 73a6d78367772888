"""A small in-process rate limiter: token buckets per client, with several budgets at once.

Each client (an API user, else a network address) has one bucket per budget, for instance
"requests" and "items". A bucket holds up to ``per_minute`` tokens and refills continuously at
``per_minute / 60`` a second, so a client may spend a minute's budget in a burst and then as
fast as it refills. A request is admitted only when every budget it draws on has enough; then
all are charged at once, otherwise none is, and the caller learns how long to wait.

By default the state lives in this process (:class:`TokenBuckets`): several web processes
each keep their own count, so the effective limit is per process. That suits one instance on
one machine. With ``rate_limit_store = "redis"`` (issue #9, item 2) the buckets live in Redis
(:class:`RedisTokenBuckets`), shared by every process: one Lua script reads, refills, checks
and charges all of a request's budgets at once, so two processes never both spend the same
tokens. While Redis cannot be reached, rate-limited requests fail with 503 rather than go
uncounted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request

from hallmark.errors import RateLimitedError, UnavailableError
from hallmark.storage.models import User

logger = logging.getLogger(__name__)

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


class Buckets(Protocol):
    """Token buckets over named budgets, wherever they are kept."""

    per_minute: dict[str, int]

    def take(self, client: str, costs: Mapping[str, int]) -> float: ...

    def fits(self, costs: Mapping[str, int]) -> bool: ...


#: Reads, refills, checks and charges every budget of one request in one step. KEYS: one hash
#: per budget; ARGV: the time (empty: the server's), then each budget's size and cost. Answers
#: the seconds to wait as a string (0 when admitted), as Redis would cut a number to an integer.
_TAKE_SCRIPT = """
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local wait = 0
local tokens = {}
for i = 1, #KEYS do
  local size = tonumber(ARGV[2 * i])
  local cost = tonumber(ARGV[2 * i + 1])
  local rate = size / 60.0
  local held = redis.call('HMGET', KEYS[i], 'tokens', 'updated')
  local have = tonumber(held[1])
  local updated = tonumber(held[2])
  if have == nil or updated == nil then
    have = size
    updated = now
  end
  have = math.min(size, have + math.max(0, now - updated) * rate)
  tokens[i] = have - cost
  if have < cost then
    wait = math.max(wait, (cost - have) / rate)
  end
end
if wait > 0 then
  return tostring(wait)
end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i]), 'updated', tostring(now))
  -- An idle bucket is full again after a minute; then it need not be kept.
  redis.call('EXPIRE', KEYS[i], 120)
end
return '0'
"""
#: Seconds a client is told to wait (Retry-After) when Redis cannot be reached.
REDIS_RETRY_AFTER = 5


class RedisTokenBuckets:
    """The same token buckets, kept in Redis and shared by every web process.

    ``clock`` (seconds) is for tests; by default the Redis server's clock is used, so the web
    processes' own clocks need not agree.
    """

    def __init__(
        self,
        client: Any,
        name: str,
        per_minute: Mapping[str, int],
        *,
        prefix: str = "hallmark",
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not per_minute or min(per_minute.values()) < 1:
            raise ValueError("every budget needs at least one token a minute")
        self.per_minute = dict(per_minute)
        self._client = client
        self._prefix = f"{prefix}:ratelimit:{name}"
        self._clock = clock
        self._script = client.register_script(_TAKE_SCRIPT)

    def take(self, client: str, costs: Mapping[str, int]) -> float:
        from redis.exceptions import RedisError

        names = sorted(costs)
        keys = [f"{self._prefix}:{budget}:{client}" for budget in names]
        args: list[str | int] = ["" if self._clock is None else repr(self._clock())]
        for budget in names:
            args += [self.per_minute[budget], costs[budget]]
        try:
            answer = self._script(keys=keys, args=args)
        except RedisError as exc:
            raise _redis_down(exc) from exc
        return float(answer)

    def fits(self, costs: Mapping[str, int]) -> bool:
        return all(amount <= self.per_minute[name] for name, amount in costs.items())


def _redis_down(error: BaseException) -> UnavailableError:
    logger.warning("rate limits cannot be checked: %s: %s", type(error).__name__, error)
    return UnavailableError(
        "Requests cannot be counted against their limits just now, so this one is refused.",
        hint="Try again in a few seconds.",
        retry_after=REDIS_RETRY_AFTER,
    )


def redis_client(url: str) -> Any:
    """A Redis client that fails within seconds when the server is down, and reconnects by
    itself when it is back."""
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=2.0, socket_timeout=2.0, health_check_interval=30
    )


_app_buckets_lock = threading.Lock()


def app_buckets(request: Request, name: str, per_minute: Mapping[str, int]) -> Buckets:
    """The app's buckets called ``name``, made on first use and again when the budgets change.

    They live on ``app.state``, as the settings they come from belong to one app: in this
    process, or in Redis when ``rate_limit_store`` says so.
    """
    state = request.app.state
    settings = state.settings
    with _app_buckets_lock:
        table: dict[str, Buckets] = getattr(state, "rate_limits", None) or {}
        buckets = table.get(name)
        if buckets is None or buckets.per_minute != dict(per_minute):
            if settings.rate_limit_store == "redis":
                client = getattr(state, "redis", None)
                if client is None:
                    client = state.redis = redis_client(settings.redis_url)
                prefix = f"hallmark:{settings.origin}"
                buckets = RedisTokenBuckets(client, name, per_minute, prefix=prefix)
            else:
                buckets = TokenBuckets(per_minute)
            table[name] = buckets
            state.rate_limits = table
        return buckets


def client_address(request: Request) -> str:
    """The network address a request came from.

    Behind a reverse proxy the address is the proxy's unless the server is told to trust its
    forwarding headers (``uvicorn --proxy-headers --forwarded-allow-ips``).
    """
    return request.client.host if request.client else "unknown"


def client_key(request: Request, user: User | None) -> str:
    """Who a request is charged to: the API user when a token was sent, else the address."""
    if user is not None:
        return f"user:{user.id}"
    return f"address:{client_address(request)}"


def charge(buckets: Buckets, client: str, costs: Mapping[str, int], what: str) -> None:
    """Charge ``costs``, or raise :class:`RateLimitedError` with the seconds to wait."""
    wait = buckets.take(client, costs)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimitedError(
            f"Too many {what} from this client; try again in {seconds} seconds.",
            hint="Send fewer requests or items a minute; the Retry-After header says when.",
            retry_after=seconds,
        )
