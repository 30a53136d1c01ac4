"""Staying under HubSpot's burst limit instead of running into it.

Every HubSpot answer says how much of the rolling window is left
(`X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`; the limit is shared by
every app of the portal). Retrying a 429 works but wastes the window and delays everyone
else; so, once the remaining requests fall to a reserve, the next request waits a share of
the window that grows as the remainder shrinks — window / (remaining + 1): a whole window
when nothing is left, by when every earlier request of the rolling window has aged out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

RESERVE_SHARE = 0.1  # start pacing when a tenth of the window is left


class BurstPacer:
    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep
        self._lock = threading.Lock()
        self.waited_s = 0.0  # total time spent pacing, for the run log

    def after(self, headers: Mapping[str, str]) -> float:
        """Called with each answer's headers; sleeps as needed, returns the seconds slept."""
        try:
            limit = int(headers["X-HubSpot-RateLimit-Max"])
            left = int(headers["X-HubSpot-RateLimit-Remaining"])
            window_ms = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"))
        except (KeyError, ValueError):
            return 0.0  # no rate-limit headers (another CRM, or a proxy stripped them)
        reserve = max(2, int(limit * RESERVE_SHARE))
        if limit <= 0 or left > reserve:
            return 0.0
        wait = window_ms / 1000 / (max(0, left) + 1)
        with self._lock:
            self._sleep(wait)
            self.waited_s += wait
        return wait
