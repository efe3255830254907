"""What the server keeps about requests, apart from the data: call counts (owned by the `Simulator`,
so they outlive a restart), rate-limit windows, and the dice that decide injected faults."""

from __future__ import annotations

import random
import threading
from collections import Counter, deque


class CallCounter:
    """Requests by endpoint key ("GET /sheets/{sheetId}"; "GET <unknown>" for unmatched paths)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RateLimiter:
    """Sliding windows of request times per token, on the simulator's virtual clock.

    Two windows: every request counts towards the general limit (a cell-history request with its
    weight, 10 in Smartsheet), and cell-history requests also towards their own limit. A request
    over either limit is refused and counts towards neither. Times are the clock's (`now`, in
    seconds), so a window empties only when the clock moves, never with wall time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._general: dict[str, deque[tuple[float, int]]] = {}
        self._history: dict[str, deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._general.clear()
            self._history.clear()

    def allow(
        self,
        token: str,
        is_history: bool,
        limit: int,
        history_limit: int,
        window: float,
        now: float,
        history_weight: int = 1,
    ) -> bool:
        weight = history_weight if is_history else 1
        with self._lock:
            general = self._general.setdefault(token, deque())
            history = self._history.setdefault(token, deque())
            while general and now - general[0][0] >= window:
                general.popleft()
            while history and now - history[0] >= window:
                history.popleft()
            used = sum(w for _, w in general)
            if used + weight > limit or (is_history and len(history) >= history_limit):
                return False
            general.append((now, weight))
            if is_history:
                history.append(now)
            return True


class FaultDice:
    """Deterministic random numbers for fault injection, reseeded when the seed changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seed: int | None = None
        self._rng = random.Random(0)

    def roll(self, seed: int) -> float:
        with self._lock:
            if seed != self._seed:
                self._rng = random.Random(f"faults:{seed}")
                self._seed = seed
            return self._rng.random()
