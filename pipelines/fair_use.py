"""Fair use on a public Space: at most N generations per visitor per hour (a sliding window).

Pure logic, no web framework: the UI layer says who the visitor is (`visitor`) and asks `admit` before each
generation. STUDIO_FAIR_USE_PER_HOUR sets N (0 = off); off by default locally, 20 by default on Spaces.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections import deque
from collections.abc import Callable

SPACE_PER_HOUR = 20
WINDOW_S = 3600.0


def per_hour() -> int:
    default = SPACE_PER_HOUR if os.environ.get("SPACE_ID") else 0
    try:
        return max(0, int(os.environ.get("STUDIO_FAIR_USE_PER_HOUR", default)))
    except ValueError:
        return default


def visitor(*, login: str | None, forwarded_for: str | None, peer: str | None, behind_space_proxy: bool) -> str:
    """Who to count a request against: the Hugging Face login where there is one, else the client address.

    Behind the Space's proxy the socket peer is the proxy itself; each proxy appends the address it saw to
    X-Forwarded-For. Entries a client wrote come first and may be forged, so the header is read from the right,
    past the platform's own internal (private-network) hops, and only when the app runs on Spaces (elsewhere
    the header is not trusted at all)."""
    if login:
        return f"user:{login}"
    if behind_space_proxy and forwarded_for:
        for entry in reversed([part.strip() for part in forwarded_for.split(",")]):
            if entry and not _internal(entry):
                return f"ip:{entry}"
    return f"ip:{peer or 'unknown'}"


def _internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local


class Limiter:
    """Generations per visitor in the last `window_s` seconds; `clock` is injectable for tests."""

    def __init__(self, limit: int, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, who: str) -> float:
        """0 if `who` may generate now (and counts it); else the seconds until a slot frees up."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            self._forget_before(now - self.window_s)
            times = self._seen.setdefault(who, deque())
            if len(times) >= self.limit:
                return max(1.0, times[0] + self.window_s - now)
            times.append(now)
            return 0.0

    def refund(self, who: str) -> None:
        """Give back the latest slot (the request was refused for bad input: no GPU time was spent)."""
        with self._lock:
            times = self._seen.get(who)
            if times:
                times.pop()
                if not times:
                    del self._seen[who]

    def _forget_before(self, cutoff: float) -> None:
        """Drop timestamps past the window, and visitors with none left, so memory stays flat."""
        for who in list(self._seen):
            times = self._seen[who]
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:
                del self._seen[who]

    def __len__(self) -> int:
        return len(self._seen)


_current: Limiter | None = None


def limiter() -> Limiter:
    """The process-wide limiter, built from the environment on first use."""
    global _current
    if _current is None:
        _current = Limiter(per_hour())
    return _current


def set_limiter(replacement: Limiter | None) -> None:
    """Swap the process-wide limiter (tests inject one with a fake clock; None rebuilds it from the env)."""
    global _current
    _current = replacement
