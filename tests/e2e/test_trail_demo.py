"""The demo's trail: DIR/digest.json, DIR/public-key.pem and DIR/verify.json, and DIR/events.jsonl
checked offline as written, by the command in a process with no AWS at all; each way of tampering
with it fails at the right position and event, with exit code 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing_audit.cli import main

CLI = [sys.executable, "-m", "billing_audit.cli"]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["demo", "--out", str(out)]) == 0
    return out


def offline(out: Path, events: Path) -> subprocess.CompletedProcess[str]:
    """`billing-audit verify` with no AWS: no endpoint, no credentials, no region."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    args = ["verify", "--events", str(events), "--digest", str(out / "digest.json")]
    args += ["--public-key", str(out / "public-key.pem"), "--json"]
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def findings(result: subprocess.CompletedProcess[str]) -> list[tuple[str, int | None, str | None]]:
    return [(f["kind"], f["position"], f["event_id"]) for f in json.loads(result.stdout)["findings"]]


def test_the_demo_writes_the_digest_key_and_its_own_verification(demo_out: Path) -> None:
    digest = json.loads((demo_out / "digest.json").read_text())
    lines = (demo_out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert digest["tree_size"] == len(lines) and digest["signing_algorithm"] == "ECDSA_SHA_256"
    assert (demo_out / "public-key.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    verified = json.loads((demo_out / "verify.json").read_text())
    assert verified["ok"] and verified["events_jsonl"]["verified"] == len(lines)
    assert verified["stored_trail"]["verified"] == len(lines)
    # FORMAT.md's fields are all there; the trail link is an extra.
    record = json.loads(lines[0])
    assert {"event_id", "changed_at", "changed_by", "type", "risk_level", "detected_via"} <= set(record)
    assert set(record["trail"]) == {"position", "prev", "prev_event_id"}
    result = offline(demo_out, demo_out / "events.jsonl")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verified"] == len(lines)


def tampered(out: Path, tmp: Path, lines: list[str]) -> Path:
    path = tmp / "events.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_every_kind_of_tampering_fails_at_its_event(demo_out: Path, tmp_path: Path) -> None:
    lines = (demo_out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    by_position = {json.loads(line)["trail"]["position"]: line for line in lines}
    size = len(lines)
    victim = json.loads(by_position[3])

    edited = [line.replace('"changed_by":"', '"changed_by":"x') if line == by_position[3] else line for line in lines]
    result = offline(demo_out, tampered(demo_out, tmp_path, edited))
    assert result.returncode == 3 and findings(result) == [("edited", 3, victim["event_id"])]

    deleted = [line for line in lines if line != by_position[3]]
    result = offline(demo_out, tampered(demo_out, tmp_path, deleted))
    assert result.returncode == 3 and findings(result) == [("deleted", 3, victim["event_id"])]

    forged = json.loads(by_position[3])
    forged["event_id"], forged["financial_impact"] = "forged-event", 99999.0
    inserted = [*lines, json.dumps(forged)]
    result = offline(demo_out, tampered(demo_out, tmp_path, inserted))
    assert result.returncode == 3 and ("inserted", 3, "forged-event") in findings(result)

    one, two = json.loads(by_position[1]), json.loads(by_position[2])
    one["trail"]["position"], two["trail"]["position"] = 2, 1
    moved = {by_position[1]: json.dumps(one), by_position[2]: json.dumps(two)}
    reordered = [moved.get(line, line) for line in lines]
    result = offline(demo_out, tampered(demo_out, tmp_path, reordered))
    assert result.returncode == 3
    assert {("edited", 1, two["event_id"]), ("edited", 2, one["event_id"])} <= set(findings(result))

    truncated = [line for line in lines if json.loads(line)["trail"]["position"] < size - 2]
    result = offline(demo_out, tampered(demo_out, tmp_path, truncated))
    assert result.returncode == 3
    assert [(kind, position) for kind, position, _ in findings(result)] == [
        ("truncated", size - 1),
        ("truncated", size - 2),
    ]
