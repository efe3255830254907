"""The trail end to end in memory: every kind of tampering with an export or the stored trail is
found at its position with its event id; expiry is told apart from deletion; proofs verify."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from billing_audit.domain.signatures import signature_problem
from billing_audit.domain.trail import Verdict, canonical, check_export, leaf_hash, tree_root
from billing_audit.pipeline.trail import log_events, prove, seal, verify_stored
from tests.unit.report_builders import NOW, week_of_events
from tests.unit.trail_builders import SealedTrail, sealed_trail


def check(sealed: SealedTrail, lines: list[bytes]) -> Verdict:
    digest = sealed.digest
    return check_export(
        lambda: lines,
        tree_size=digest.tree_size,
        root=digest.root,
        last_leaf=digest.last_leaf,
        last_event_id=digest.last_event_id,
    )


def kinds(verdict: Verdict) -> list[tuple[str, int | None, str | None]]:
    return [(f.kind, f.position, f.event_id) for f in verdict.findings]


def event_id(line: bytes) -> str:
    return str(json.loads(line)["event_id"])


def edit(line: bytes, **changes: object) -> bytes:
    value = json.loads(line)
    value.update(changes)
    return canonical(value)


@pytest.fixture(scope="module")
def sealed() -> SealedTrail:
    return sealed_trail()


def test_the_export_is_the_leaves_and_verifies(sealed: SealedTrail) -> None:
    lines = sealed.export()
    assert len(lines) == sealed.digest.tree_size == 40
    assert tree_root(leaf_hash(line) for line in lines) == sealed.digest.root
    first = json.loads(lines[0])
    assert first["trail"] == {"position": 0, "prev": None, "prev_event_id": None}
    assert json.loads(lines[1])["trail"]["prev"] == leaf_hash(lines[0]).hex()
    verdict = check(sealed, lines)
    assert verdict.ok and verdict.verified == 40 and not verdict.findings
    assert signature_problem(sealed.digest, sealed.signer.public_key_pem().encode()) is None


def test_line_order_is_free_positions_are_not(sealed: SealedTrail) -> None:
    lines = sealed.export()
    shuffled = lines[::-1]
    assert check(sealed, shuffled).ok  # the demo writes by change time: positions are inside the lines


@pytest.mark.parametrize("where", [0, 17, 39])
def test_an_edited_event_is_found_where_it_is(sealed: SealedTrail, where: int) -> None:
    lines = sealed.export()
    lines[where] = edit(lines[where], financial_impact=0.0)
    verdict = check(sealed, lines)
    assert not verdict.ok
    assert ("edited", where, event_id(lines[where])) in kinds(verdict)
    assert [f for f in verdict.findings if f.kind != "edited"] == []
    # Only the lines above the edit are vouched for by the seal; those below link to it alone.
    assert (verdict.verified, verdict.unvouched) == (39 - where, where)


def test_a_rechained_copy_verifies_nothing(sealed: SealedTrail) -> None:
    """Every line altered and the links rebuilt over the altered lines (as another run's trail of
    the same changes would be): the copy chains among itself, and not one line is in the seal."""
    forged: list[bytes] = []
    for line in sealed.export():
        value = json.loads(line)
        value["detected_via"] = "webhook"
        value["trail"]["prev"] = leaf_hash(forged[-1]).hex() if forged else None
        forged.append(canonical(value))
    verdict = check(sealed, forged)
    assert not verdict.ok
    assert (verdict.verified, verdict.unvouched) == (0, 39)
    assert kinds(verdict) == [("edited", 39, event_id(forged[39]))]


def test_a_deleted_event_is_named_by_its_successor(sealed: SealedTrail) -> None:
    lines = sealed.export()
    gone = event_id(lines[12])
    del lines[12]
    verdict = check(sealed, lines)
    assert kinds(verdict) == [("deleted", 12, gone)]
    assert (verdict.verified, verdict.unvouched) == (27, 12)


def test_an_inserted_event_is_found(sealed: SealedTrail) -> None:
    lines = sealed.export()
    forged = edit(lines[5], event_id="forged", financial_impact=1.0)
    verdict = check(sealed, [*lines[:6], forged, *lines[6:]])
    assert ("inserted", 5, "forged") in kinds(verdict)
    assert not verdict.ok
    extra = edit(lines[5], event_id="late", trail={"position": 40, "prev": None, "prev_event_id": None})
    assert ("unsealed", 40, "late") in kinds(check(sealed, [*lines, extra]))
    assert ("malformed", None, None) in kinds(check(sealed, [*lines, b'{"event_id": "no trail"}']))


def test_reordered_events_are_found_at_both_positions(sealed: SealedTrail) -> None:
    lines = sealed.export()
    a, b = json.loads(lines[8]), json.loads(lines[20])
    a["trail"]["position"], b["trail"]["position"] = 20, 8
    lines[8], lines[20] = canonical(b), canonical(a)
    found = kinds(check(sealed, lines))
    assert ("edited", 8, b["event_id"]) in found and ("edited", 20, a["event_id"]) in found


def test_a_truncated_export_is_found(sealed: SealedTrail) -> None:
    lines = sealed.export()
    verdict = check(sealed, lines[:35])
    assert [(k, p) for k, p, _ in kinds(verdict)] == [("truncated", p) for p in range(39, 34, -1)]
    assert kinds(verdict)[0][2] == sealed.digest.last_event_id


def test_the_stored_trail_verifies_and_tampering_is_found() -> None:
    sealed = sealed_trail()
    key = sealed.signer.public_key_pem().encode()
    digests = list(sealed.digests.all())
    assert verify_stored(sealed.trail, digests, key, NOW).verdict.ok
    entries = list(sealed.trail.entries())
    edited, deleted = entries[3].event_id, entries[9].event_id
    store = sealed.store
    store.events[edited] = store.events[edited].model_copy(update={"financial_impact": 12345.0})
    del store.events[deleted]
    inserted = week_of_events(41)[40]
    store.events[inserted.event_id] = inserted
    found = kinds(verify_stored(sealed.trail, digests, key, NOW).verdict)
    assert ("edited", 3, edited) in found and ("deleted", 9, deleted) in found
    assert ("inserted", None, inserted.event_id) in found


def test_a_stored_log_reordered_or_truncated_is_found() -> None:
    sealed = sealed_trail()
    key = sealed.signer.public_key_pem().encode()
    digests = list(sealed.digests.all())
    log = sealed.trail.log
    log[4], log[5] = log[5], log[4]
    found = kinds(verify_stored(sealed.trail, digests, key, NOW).verdict)
    assert ("log", 5, log[4].event_id) in found
    log[4], log[5] = log[5], log[4]
    last = log.pop()
    found = kinds(verify_stored(sealed.trail, digests, key, NOW).verdict)
    assert ("truncated", 39, last.event_id) in found


def test_expiry_is_not_deletion() -> None:
    sealed = sealed_trail(retention_days=30)
    key = sealed.signer.public_key_pem().encode()
    later = NOW + timedelta(days=40)
    for event_id in list(sealed.store.events):
        del sealed.store.events[event_id]  # the table's TTL took them all
    stored = verify_stored(sealed.trail, list(sealed.digests.all()), key, later).verdict
    assert stored.ok and stored.expired == 40
    exported = sealed.export(later)
    assert all(json.loads(line)["expired"] for line in exported)
    verdict = check(sealed, exported)
    assert verdict.ok and verdict.expired == 40
    # Before its retention is up, a missing record is a deletion.
    assert not verify_stored(sealed.trail, list(sealed.digests.all()), key, NOW).verdict.ok


def test_digests_chain_and_a_forged_one_is_refused() -> None:
    sealed = sealed_trail()
    more = week_of_events(50)[40:]
    log_events(sealed.store.add(more), more, sealed.trail)
    second = seal(sealed.trail, sealed.digests, sealed.signer, NOW + timedelta(hours=1))
    assert second.previous_digest_hash == sealed.digest.digest_hash() and second.tree_size == 50
    key = sealed.signer.public_key_pem().encode()
    assert verify_stored(sealed.trail, list(sealed.digests.all()), key, NOW).verdict.ok
    forged = second.model_copy(update={"root_hash": "00" * 32})
    found = verify_stored(sealed.trail, [sealed.digest, forged], key, NOW).verdict.findings
    assert any("signature does not match" in f.detail for f in found)


def test_logging_twice_logs_once_and_heals_a_crash_between_store_and_log() -> None:
    sealed = sealed_trail()
    events = week_of_events(45)
    crashed = events[40:]
    sealed.store.add(crashed)  # stored, then the writer died before logging
    again = sealed.store.add(events)
    assert again == []
    assert log_events(again, events, sealed.trail) == 5
    ids = [entry.event_id for entry in sealed.trail.entries()]
    assert len(ids) == len(set(ids)) == 45


def test_a_proof_verifies_and_fails_on_a_changed_byte(sealed: SealedTrail) -> None:
    target = sealed.export()[23]
    proof = prove(sealed.trail, sealed.digest, event_id(target))
    assert proof is not None and proof.leaf.encode() == target
    assert proof.verify(sealed.digest) == []
    bad_leaf = proof.model_copy(update={"leaf": proof.leaf.replace('"row_id":', '"row_id":1')})
    assert bad_leaf.verify(sealed.digest)
    node = proof.audit_path[1]
    flipped = node[:10] + ("0" if node[10] != "0" else "1") + node[11:]
    bad_path = proof.model_copy(update={"audit_path": [proof.audit_path[0], flipped, *proof.audit_path[2:]]})
    assert bad_path.verify(sealed.digest)


def test_a_later_digest_is_proven_to_extend_an_earlier_one_and_a_rewrite_is_not() -> None:
    from billing_audit.pipeline.trail import prove_consistency

    sealed = sealed_trail()
    old = sealed.digest
    more = week_of_events(55)[40:]
    log_events(sealed.store.add(more), more, sealed.trail)
    new = seal(sealed.trail, sealed.digests, sealed.signer, NOW + timedelta(hours=1))
    proof = prove_consistency(sealed.trail, old, new)
    assert proof is not None and proof.verify(old, new) == []
    # A log rewritten before the old digest's size: the new root it would seal cannot be proven.
    rewritten = new.model_copy(update={"root_hash": "ab" * 32})
    assert proof.verify(old, rewritten)
    flipped = proof.model_copy(update={"path": ["00" * 32, *proof.path[1:]]})
    assert flipped.verify(old, new)
    assert prove_consistency(sealed.trail, new, old) is None


def test_digests_of_one_second_keep_their_own_keys_and_chain_order() -> None:
    from billing_audit.store.digests import digest_key, in_chain_order

    sealed = sealed_trail(5)
    second = seal(sealed.trail, sealed.digests, sealed.signer, NOW)  # same second, same size
    digests = list(sealed.digests.all())
    assert digest_key(digests[0]) != digest_key(second)
    assert in_chain_order([second, digests[0]]) == digests
    forged = second.model_copy(update={"previous_digest_hash": "00" * 32})
    # Not one chain: back to time order (a tie keeps the listing's order), and the check says where.
    assert in_chain_order([forged, digests[0]]) == [forged, digests[0]]
    from billing_audit.pipeline.trail import check_digests

    problems = check_digests([digests[0], forged], sealed.signer.public_key_pem().encode())
    assert any("does not chain" in f.detail for f in problems)
