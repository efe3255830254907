"""The token's shared budget (billing_audit.budget): Smartsheet's limits as a sliding window."""

from __future__ import annotations

from datetime import UTC, datetime

from billing_audit.budget import HISTORY_ENDPOINT, Cost, Priority, Window, cost_of
from billing_audit.store.memory import MemoryRequestBudget

HISTORY = cost_of(HISTORY_ENDPOINT)


def _take_all(window: Window, priority: Priority, now: float) -> tuple[Window, int, float]:
    granted = 0
    while True:
        window, wait = window.take(HISTORY, priority, now)
        if wait:
            return window, granted, wait
        granted += 1


def test_a_history_request_weighs_ten_requests_and_one_history_read() -> None:
    assert Cost(10, 1) == HISTORY
    assert cost_of("GET /sheets/{sheetId}") == Cost(1, 0)


def test_no_minute_ever_holds_more_than_thirty_history_reads() -> None:
    window, granted, wait = _take_all(Window(), Priority.SCAN, now=1000.0)
    assert granted == 30 and 59.9 < wait <= 60.01  # until the first grant leaves the window
    assert window.take(HISTORY, Priority.SCAN, 1059.0)[1] > 0
    assert window.take(HISTORY, Priority.SCAN, 1060.01)[1] == 0


def test_the_general_limit_counts_history_ten_times() -> None:
    window = Window()
    for _ in range(250):
        window, wait = window.take(Cost(1, 0), Priority.SCAN, 5.0)
        assert wait == 0
    window, granted, _ = _take_all(window, Priority.SCAN, 5.0)
    assert granted == 5  # 250 + 5 x 10 = 300


def test_the_scan_leaves_a_reserve_while_callbacks_want_the_token() -> None:
    window, wait = Window().take(Cost(1, 0), Priority.REALTIME, 0.0)
    assert wait == 0
    window, granted, _ = _take_all(window, Priority.SCAN, 1.0)
    assert granted == 23  # a fifth of each limit stays for the callbacks: (300 - 60 - 1) // 10
    assert window.take(HISTORY, Priority.REALTIME, 1.0)[1] == 0
    # A minute without callbacks: the scan may use the whole limit again.
    _, granted, _ = _take_all(window, Priority.SCAN, 120.0)
    assert granted == 30


def test_a_waiting_scan_drains_at_the_limit_itself() -> None:
    now = [0.0]
    budget = MemoryRequestBudget(clock=lambda: datetime.fromtimestamp(now[0], UTC))
    granted = 0
    while now[0] < 600:
        wait = budget.take(HISTORY, Priority.SCAN)
        if wait:
            now[0] += wait
        else:
            granted += 1
    assert 300 <= granted <= 330  # ten minutes at 30 a minute (and the minute it ended in)


def test_a_scan_prepays_a_rows_history_reads_and_nothing_else() -> None:
    from billing_audit.budget import PREPAID_HISTORY, PREPAID_SECONDS, Prepaid

    prepaid = Prepaid()
    plain = cost_of("GET /sheets/{sheetId}")
    assert Prepaid.to_ask(plain, Priority.SCAN) == plain
    assert Prepaid.to_ask(HISTORY, Priority.REALTIME) == HISTORY
    asked = Prepaid.to_ask(HISTORY, Priority.SCAN)
    assert asked == Cost(10 * PREPAID_HISTORY, PREPAID_HISTORY)
    assert not prepaid.spend(HISTORY, Priority.SCAN, 100.0)  # nothing prepaid yet
    prepaid.granted(HISTORY, asked, 100.0)
    assert not prepaid.spend(HISTORY, Priority.REALTIME, 100.0)  # never real-time work's
    assert not prepaid.spend(plain, Priority.SCAN, 100.0)  # nor another endpoint's
    spent = [prepaid.spend(HISTORY, Priority.SCAN, 100.0 + i) for i in range(PREPAID_HISTORY)]
    assert spent == [True] * (PREPAID_HISTORY - 1) + [False]  # the row's others, then ask again
    prepaid.granted(HISTORY, asked, 200.0)
    assert not prepaid.spend(HISTORY, Priority.SCAN, 200.0 + PREPAID_SECONDS)  # lapsed
