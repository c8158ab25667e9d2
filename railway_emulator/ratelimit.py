"""Railway's rate limit: a fixed window per token, reported in headers on every response.

X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (epoch seconds when the window
ends) and RateLimit-Policy on every response; 429 with Retry-After once the window is spent.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    limit: int = 1000
    window_seconds: float = 3600.0
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> tuple[bool, dict[str, str]]:
        """Count one request for `key`: (allowed, headers to send)."""
        now = time.time()
        with self._lock:
            started, used = self._windows.get(key, (now, 0))
            if now - started >= self.window_seconds:
                started, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[key] = (started, used)
        reset = started + self.window_seconds
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - used, 0)),
            "X-RateLimit-Reset": str(math.ceil(reset)),
            "RateLimit-Policy": f"{self.limit};w={math.ceil(self.window_seconds)}",
        }
        if not allowed:
            headers["Retry-After"] = str(max(math.ceil(reset - now), 1))
        return allowed, headers

    def configure(self, limit: int, window_seconds: float) -> None:
        with self._lock:
            self.limit, self.window_seconds = limit, window_seconds
            self._windows.clear()
