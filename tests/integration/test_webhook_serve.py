"""`billing-audit serve` in a child process: prints the webhook URL, answers through it, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import requests

CHILD = r"""
import sys
from billing_audit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _reader(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


def test_serve_prints_the_url_answers_and_stops_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(child.stdout, lines), daemon=True).start()
    seen: list[str] = []
    url = ""
    try:
        deadline = time.monotonic() + 180  # the stack starts in seconds; generous for a loaded machine
        while not url and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert child.poll() is None, "serve exited early:\n" + "".join(seen)
                continue
            seen.append(line)
            found = re.match(r"Webhook URL:\s+(http://127\.0\.0\.1:\d+/webhook)", line)
            url = found.group(1) if found else ""
        assert url, "no webhook URL printed:\n" + "".join(seen)
        table = [line.split() for line in seen if re.match(r"\d+\s+\d+\s+ENABLED", line)]
        assert table, "no ENABLED webhook in the status table:\n" + "".join(seen)
        webhook_id = int(table[0][1])

        answer = requests.post(
            url,
            data=json.dumps({"challenge": "c-9", "webhookId": webhook_id}),
            timeout=10,
            headers={"Smartsheet-Hook-Challenge": "c-9"},
        )
        assert answer.status_code == 200 and answer.headers["Smartsheet-Hook-Response"] == "c-9"
        unknown = requests.post(
            url,
            data=json.dumps({"challenge": "c-9", "webhookId": 1}),
            timeout=10,
            headers={"Smartsheet-Hook-Challenge": "c-9"},
        )
        assert unknown.status_code == 403
        unsigned = requests.post(
            url, data=json.dumps({"webhookId": webhook_id, "nonce": "n", "events": []}), timeout=10
        )
        assert unsigned.status_code == 401
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
        try:
            code = child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            raise
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    output = "".join(seen + rest)
    assert code == 0, output[-3000:]
    assert "Stopping." in output
    assert "Traceback" not in output
