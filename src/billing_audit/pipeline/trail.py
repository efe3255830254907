"""The trail's work: log what was stored, seal the log in signed digests, check the stored trail
against them, prove one event, and stream the trail in leaf order for exports."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from billing_audit.clock import Clock
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.signatures import signature_problem
from billing_audit.domain.trail import (
    ConsistencyProof,
    Digest,
    Finding,
    FindingKind,
    Frontier,
    InclusionProof,
    Verdict,
    consistency_proof,
    expired_stand_in,
    inclusion_proof,
    leaf_hash,
)
from billing_audit.domain.values import utc_iso
from billing_audit.store.digests import DigestStore, Signer
from billing_audit.store.event_query import EventQuery
from billing_audit.store.trail import TrailEntry, TrailLog

READ_BATCH = 100


@dataclass
class TrailDeps:
    """What the digest function and the trail commands use."""

    trail: TrailLog
    digests: DigestStore
    signer: Signer
    query: EventQuery
    clock: Clock
    # Read only when a pseudonymised export is asked for (Secrets Manager in AWS).
    pseudonym_key: Callable[[], bytes] | None = None


def log_events(new: Sequence[AuditEvent], seen: Sequence[AuditEvent], trail: TrailLog) -> int:
    """Log the events just stored (`new`, their records exactly as stored) and any of `seen` a
    crashed writer stored but never logged (their records read back, since the copy in hand may
    have been scored differently).  Returns how many entries were written."""
    records: list[tuple[str, dict[str, object]]] = [(event.event_id, event.to_record()) for event in new]
    fresh = {event.event_id for event in new}
    others = [event.event_id for event in seen if event.event_id not in fresh]
    missing = trail.unlogged(others) if others else []
    if missing:
        stored = trail.stored_records(missing)
        records.extend((event_id, stored[event_id]) for event_id in missing if event_id in stored)
    return len(trail.append(records)) if records else 0


def seal(trail: TrailLog, digests: DigestStore, signer: Signer, now: datetime) -> Digest:
    """Sign the log's current state, chained to the previous digest, and keep it."""
    head = trail.head()
    previous = digests.latest()
    body = Digest(
        tree_size=head.size,
        root_hash=head.frontier.root().hex(),
        last_leaf_hash=head.last_leaf.hex() if head.last_leaf else None,
        last_event_id=head.last_event_id,
        digest_time=utc_iso(now),
        previous_digest_hash=previous.digest_hash() if previous else None,
        previous_digest_time=previous.digest_time if previous else None,
        previous_tree_size=previous.tree_size if previous else None,
        key_id=signer.key_id,
        signing_algorithm=signer.algorithm,
    )
    digest = body.model_copy(update={"signature": base64.b64encode(signer.sign(body.signed_bytes())).decode()})
    digests.put(digest, previous)
    return digest


def check_digests(digests: Sequence[Digest], public_key_pem: bytes) -> list[Finding]:
    """Each digest signed by the key and chained to the one before, the log only ever growing."""
    findings: list[Finding] = []
    previous: Digest | None = None
    for digest in digests:
        problem = signature_problem(digest, public_key_pem)
        if problem:
            findings.append(
                Finding(kind="log", position=None, event_id=None, detail=f"digest {digest.digest_time}: {problem}")
            )
        expected = previous.digest_hash() if previous else None
        if digest.previous_digest_hash != expected:
            findings.append(
                Finding(
                    kind="log",
                    position=None,
                    event_id=None,
                    detail=f"digest {digest.digest_time} does not chain to the digest before it",
                )
            )
        if previous is not None and digest.tree_size < previous.tree_size:
            findings.append(
                Finding(
                    kind="log",
                    position=None,
                    event_id=None,
                    detail=f"digest {digest.digest_time} seals fewer leaves than the one before",
                )
            )
        previous = digest
    return findings


@dataclass
class StoredVerdict:
    verdict: Verdict
    digests: int
    unsealed: int  # entries appended after the latest digest


def verify_stored(trail: TrailLog, digests: Sequence[Digest], public_key_pem: bytes, now: datetime) -> StoredVerdict:
    """Check the stored trail: digests (signatures, chain), the log (positions, links, the root at
    every digest's size), every logged event's record against its leaf hash and its item's index
    attributes and expiry against the record and the log; then every event the table holds on each
    day from the log's first to today is in the log.  Reads entries and records in pages."""
    latest = digests[-1] if digests else None
    size = latest.tree_size if latest else 0
    verdict = Verdict(tree_size=size, root_hash=latest.root_hash if latest else "")
    findings = verdict.findings
    findings.extend(check_digests(digests, public_key_pem))
    sealed_roots = {digest.tree_size: digest.root for digest in digests}
    frontier = Frontier()
    previous: TrailEntry | None = None
    days: dict[str, set[str]] = {}
    batch: list[TrailEntry] = []
    now_epoch = int(now.timestamp())

    def flag(kind: FindingKind, entry: TrailEntry, detail: str) -> None:
        findings.append(Finding(kind=kind, position=entry.position, event_id=entry.event_id, detail=detail))

    def check_batch() -> None:
        stored = trail.stored_events([entry.event_id for entry in batch])
        for entry in batch:
            held = stored.get(entry.event_id)
            if held is None:
                if entry.expires_at is not None and entry.expires_at <= now_epoch:
                    verdict.expired += 1
                    flag("expired", entry, "past its retention: only its hash is kept")
                else:
                    flag("deleted", entry, "logged, but the events table no longer holds it")
            elif leaf_hash(entry.line_for(held.record)) != entry.leaf_hash:
                flag("edited", entry, "the stored record does not hash to its leaf")
            elif wrong := [*held.disagreeing, *(["expires_at"] if held.expires_at != entry.expires_at else [])]:
                # The record holds, but what queries, reports and the TTL read beside it does not:
                # an index moved or cleared hides the event, an expiry moved deletes it early.
                flag("misindexed", entry, f"the item's {', '.join(wrong)} do not match its record and log entry")
            else:
                verdict.verified += 1
        batch.clear()

    for entry in trail.entries():
        verdict.lines += 1
        expected_position = previous.position + 1 if previous else 0
        if entry.position != expected_position or entry.prev != (previous.leaf_hash if previous else None):
            flag("log", entry, "the log entry does not link to the entry before it (moved, inserted or removed)")
        frontier.append(entry.leaf_hash)
        sealed = sealed_roots.get(frontier.size)
        if sealed is not None and frontier.root() != sealed:
            flag("log", entry, f"the log's first {frontier.size} leaves are not what a digest sealed")
        if entry.detected_day:
            days.setdefault(entry.detected_day, set()).add(entry.event_id)
        previous = entry
        batch.append(entry)
        if len(batch) >= READ_BATCH:
            check_batch()
    check_batch()
    if frontier.size < size:
        for position in range(frontier.size, size):
            findings.append(
                Finding(
                    kind="truncated",
                    position=position,
                    event_id=latest.last_event_id if latest and position == size - 1 else None,
                    detail=f"the log ends before position {frontier.size}; the digest seals {size} leaves",
                )
            )
    # Every day from the log's first to today, not only days it has entries for: an event put
    # in the table on a day the log never saw is as much an insertion.
    today = now.astimezone(UTC).date()
    first = min((date.fromisoformat(day) for day in days), default=today)
    last = max([today, *(date.fromisoformat(day) for day in days)])
    for offset in range((last - first).days + 1):
        day = (first + timedelta(days=offset)).isoformat()
        logged = days.get(day, set())
        for event_id in trail.stored_ids(day):
            if event_id not in logged and trail.entry_of(event_id) is None:
                findings.append(
                    Finding(
                        kind="inserted",
                        position=None,
                        event_id=event_id,
                        detail="in the events table but not in the trail",
                    )
                )
    return StoredVerdict(verdict, len(digests), max(0, frontier.size - size))


def prove(trail: TrailLog, digest: Digest, event_id: str) -> InclusionProof | None:
    """The inclusion proof of a logged event in the tree the digest sealed (None if not sealed by it)."""
    entry = trail.entry_of(event_id)
    if entry is None or entry.position >= digest.tree_size:
        return None
    record = trail.stored_records([event_id]).get(event_id)
    if record is None:
        return None
    leaves = [item.leaf_hash for item, _ in zip(trail.entries(), range(digest.tree_size), strict=False)]
    path = inclusion_proof(leaves, entry.position, digest.tree_size)
    return InclusionProof(
        event_id=event_id,
        leaf_index=entry.position,
        tree_size=digest.tree_size,
        leaf=entry.line_for(record).decode(),
        leaf_hash=entry.leaf_hash.hex(),
        audit_path=[node.hex() for node in path],
        root_hash=digest.root_hash,
    )


def prove_consistency(trail: TrailLog, old: Digest, new: Digest) -> ConsistencyProof | None:
    """The proof that `new`'s tree extends `old`'s, from the log's leaf hashes (None when `old` is
    not the smaller, or empty)."""
    if not 0 < old.tree_size <= new.tree_size:
        return None
    leaves = [item.leaf_hash for item, _ in zip(trail.entries(), range(new.tree_size), strict=False)]
    path = consistency_proof(leaves, old.tree_size, new.tree_size)
    return ConsistencyProof(
        old_size=old.tree_size,
        new_size=new.tree_size,
        old_root=old.root_hash,
        new_root=new.root_hash,
        path=[node.hex() for node in path],
    )


def leaf_lines(
    trail: TrailLog, now: datetime, limit: int | None = None
) -> Iterator[tuple[bytes, dict[str, object] | None]]:
    """The trail in position order as export lines: each event's leaf (with its record), or a
    stand-in carrying the kept hash for an event whose record expired.  A record missing before its
    expiry is left out, so the verifier reports it deleted.  Reads in pages of READ_BATCH."""
    now_epoch = int(now.timestamp())
    batch: list[TrailEntry] = []

    def flush() -> Iterator[tuple[bytes, dict[str, object] | None]]:
        records = trail.stored_records([entry.event_id for entry in batch])
        for entry in batch:
            record = records.get(entry.event_id)
            if record is not None:
                yield entry.line_for(record), record
            elif entry.expires_at is not None and entry.expires_at <= now_epoch:
                yield (
                    expired_stand_in(entry.event_id, entry.position, entry.leaf_hash, entry.prev, entry.prev_event_id),
                    None,
                )
        batch.clear()

    for count, entry in enumerate(trail.entries()):
        if limit is not None and count >= limit:
            break
        batch.append(entry)
        if len(batch) >= READ_BATCH:
            yield from flush()
    yield from flush()
