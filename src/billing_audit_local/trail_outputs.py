"""The demo's trail outputs: the run's digest signed by the local cloud's KMS key, its public key,
and the result of checking the run's own events.jsonl against them (verify.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from billing_audit.clock import Clock
from billing_audit.domain.signatures import signature_problem
from billing_audit.domain.trail import Digest, check_export
from billing_audit.pipeline.trail import leaf_lines, seal, verify_stored
from billing_audit.settings import TrailSettings, load
from billing_audit.wiring import trail_dependencies

DIGEST_FILE = "digest.json"
PUBLIC_KEY_FILE = "public-key.pem"
VERIFY_FILE = "verify.json"


def seal_run(out_dir: Path, clock: Clock) -> dict[str, str]:
    """Sign a digest of the log now (as the hourly schedule would), write it and the public key to
    `out_dir`; returns each logged event's leaf line, which events.jsonl writes as the event's line."""
    out_dir.mkdir(parents=True, exist_ok=True)
    deps = trail_dependencies(load(TrailSettings), clock=clock)
    digest = seal(deps.trail, deps.digests, deps.signer, clock())
    (out_dir / DIGEST_FILE).write_text(json.dumps(digest.model_dump(), indent=2) + "\n", encoding="utf-8")
    (out_dir / PUBLIC_KEY_FILE).write_text(deps.signer.public_key_pem(), encoding="utf-8")
    leaves: dict[str, str] = {}
    for line, _record in leaf_lines(deps.trail, clock()):
        leaves[str(json.loads(line)["event_id"])] = line.decode()
    return leaves


def check_run(out_dir: Path, clock: Clock) -> dict[str, Any]:
    """Check events.jsonl offline against the digest and public key beside it, and the stored trail
    against its digests; writes and returns verify.json."""
    digest = Digest.model_validate_json((out_dir / DIGEST_FILE).read_bytes())
    key = (out_dir / PUBLIC_KEY_FILE).read_bytes()
    events = out_dir / "events.jsonl"

    def lines() -> list[bytes]:
        return [line for line in events.read_bytes().splitlines() if line]

    offline = check_export(
        lines,
        tree_size=digest.tree_size,
        root=digest.root,
        last_leaf=digest.last_leaf,
        last_event_id=digest.last_event_id,
    )
    deps = trail_dependencies(load(TrailSettings), clock=clock)
    stored = verify_stored(deps.trail, list(deps.digests.all()), key, clock())
    signature = signature_problem(digest, key)
    result = {
        "ok": offline.ok and stored.verdict.ok and signature is None,
        "digest": {"tree_size": digest.tree_size, "root_hash": digest.root_hash, "digest_time": digest.digest_time},
        "signature_problem": signature,
        "events_jsonl": offline.summary(),
        "stored_trail": {**stored.verdict.summary(), "digests": stored.digests, "unsealed_entries": stored.unsealed},
    }
    (out_dir / VERIFY_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
