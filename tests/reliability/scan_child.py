"""One scan run in a process of its own, for the crash-consistency test to SIGKILL.

    python -m tests.reliability.scan_child API_BASE TOKEN NOW CONFIG_FILE

AWS is the local cloud the parent started (its endpoint and resource names are in the environment
this process inherits); Smartsheet is the parent's simulator, over HTTP, its clock frozen at NOW.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from billing_audit.config import parse_config
from billing_audit.pipeline.scan import run_scan
from billing_audit.settings import AuditSettings, load
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.wiring import aws_dependencies


def main(argv: list[str]) -> int:
    api_base, token, now_text, config_file = argv
    now = datetime.fromisoformat(now_text)
    config = parse_config(__import__("json").loads(Path(config_file).read_text()))
    gateway = SdkSmartsheet(token=token, api_base=api_base, backoff=ExponentialBackoff(base_seconds=0))
    deps = aws_dependencies(config, load(AuditSettings), smartsheet=gateway, clock=lambda: now)
    print("scanning", flush=True)  # the parent's kills fall after this line, within the run
    result = run_scan(config, deps)
    errors = [sheet.error for sheet in result.sheets if sheet.error]
    print("errors:", errors)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
