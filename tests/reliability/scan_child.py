"""One scan run in a process of its own, for the crash-consistency test to SIGKILL.

    python -m tests.reliability.scan_child API_BASE TOKEN NOW CONFIG_FILE [DIE_AFTER]

AWS is the local cloud the parent started (its endpoint and resource names are in the environment
this process inherits); Smartsheet is the parent's simulator, over HTTP, its clock frozen at NOW.

DIE_AFTER N: the process SIGKILLs itself right after its N-th durable write (events stored, a row
marked done, a snapshot saved), so a kill falls inside the work however fast the machine runs it;
a kill timed by the parent's clock alone can come after a quick run has finished.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from billing_audit.config import parse_config
from billing_audit.pipeline.scan import run_scan
from billing_audit.settings import AuditSettings, load
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.wiring import aws_dependencies


class Writes:
    """Counts durable writes across the ports it wraps; dies right after the chosen one."""

    def __init__(self, die_after: int) -> None:
        self.count = 0
        self.die_after = die_after

    def wrote(self) -> None:
        self.count += 1
        if self.count == self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)


class Counted:
    """A port whose named write methods are counted by `writes` once they return."""

    def __init__(self, inner: Any, writes: Writes, methods: frozenset[str]) -> None:
        self.inner = inner
        self.writes = writes
        self.methods = methods

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in self.methods:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            self.writes.wrote()
            return result

        return counted


def main(argv: list[str]) -> int:
    api_base, token, now_text, config_file, *rest = argv
    now = datetime.fromisoformat(now_text)
    config = parse_config(__import__("json").loads(Path(config_file).read_text()))
    gateway = SdkSmartsheet(token=token, api_base=api_base, backoff=ExponentialBackoff(base_seconds=0))
    deps = aws_dependencies(config, load(AuditSettings), smartsheet=gateway, clock=lambda: now)
    if rest:
        writes = Writes(int(rest[0]))
        deps.events = Counted(deps.events, writes, frozenset({"add"}))
        deps.runs = Counted(deps.runs, writes, frozenset({"begin", "mark_done", "end"}))
        deps.state = Counted(deps.state, writes, frozenset({"save", "remember_rows"}))
    print("scanning", flush=True)  # the parent's kills fall after this line, within the run
    result = run_scan(config, deps)
    errors = [sheet.error for sheet in result.sheets if sheet.error]
    print("errors:", errors)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
