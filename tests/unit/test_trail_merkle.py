"""The trail's Merkle tree against RFC 6962's own definitions, for any size."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_audit.domain.trail import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the RFC states it (recursive split at the largest power of two)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def leaves_of(n: int) -> list[bytes]:
    return [leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def flip(value: bytes, index: int) -> bytes:
    index %= len(value)
    return value[:index] + bytes([value[index] ^ 0x01]) + value[index + 1 :]


def test_known_answers() -> None:
    # RFC 6962's leaf and empty-tree hashes, and a two-leaf tree worked out by hand.
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert tree_root([a, b]) == hashlib.sha256(b"\x01" + a + b).digest()


@given(st.integers(0, 300))
def test_frontier_root_is_the_rfc_root(n: int) -> None:
    leaves = leaves_of(n)
    assert tree_root(leaves) == mth(leaves)


@given(st.integers(0, 200), st.integers(0, 200))
def test_a_frontier_survives_its_stored_form(n: int, more: int) -> None:
    leaves = leaves_of(n + more)
    frontier = Frontier()
    for leaf in leaves[:n]:
        frontier.append(leaf)
    again = Frontier.from_hex(frontier.size, frontier.to_hex())
    for leaf in leaves[n:]:
        again.append(leaf)
    assert again.root() == mth(leaves)


@settings(max_examples=200)
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    n, index = case
    leaves = leaves_of(n)
    proof = inclusion_proof(leaves, index)
    assert verify_inclusion(index, n, leaves[index], proof, mth(leaves))
    assert len(proof) <= n.bit_length()


@settings(max_examples=200)
@given(st.integers(2, 120).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(0, 10**6))))
def test_inclusion_proofs_fail_on_any_changed_byte(case: tuple[int, int, int]) -> None:
    n, index, where = case
    leaves = leaves_of(n)
    root = mth(leaves)
    proof = inclusion_proof(leaves, index)
    assert not verify_inclusion(index, n, flip(leaves[index], where), proof, root)
    assert not verify_inclusion(index, n, leaves[index], proof, flip(root, where))
    if proof:
        step = where % len(proof)
        bad = [*proof[:step], flip(proof[step], where // 7), *proof[step + 1 :]]
        assert not verify_inclusion(index, n, leaves[index], bad, root)
    other = (index + 1) % n
    assert not verify_inclusion(other, n, leaves[index], proof, root) or leaves[other] == leaves[index]


@settings(max_examples=200)
@given(st.integers(1, 150).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_proofs_verify(case: tuple[int, int]) -> None:
    m, n = case
    leaves = leaves_of(n)
    proof = consistency_proof(leaves, m)
    assert verify_consistency(m, n, mth(leaves[:m]), mth(leaves), proof)


@settings(max_examples=200)
@given(st.integers(2, 120).flatmap(lambda n: st.tuples(st.integers(1, n - 1), st.just(n), st.integers(0, 10**6))))
def test_consistency_fails_when_history_was_rewritten(case: tuple[int, int, int]) -> None:
    m, n, where = case
    leaves = leaves_of(n)
    old_root = mth(leaves[:m])
    proof = consistency_proof(leaves, m)
    assert not verify_consistency(m, n, flip(old_root, where), mth(leaves), proof)
    assert not verify_consistency(m, n, old_root, flip(mth(leaves), where), proof)
    # An earlier leaf changed after the old digest: the new tree does not extend the old one.
    rewritten = list(leaves)
    rewritten[where % m] = leaf_hash(b"forged")
    assert not verify_consistency(m, n, old_root, mth(rewritten), consistency_proof(rewritten, m))
    step = where % len(proof)
    bad = [*proof[:step], flip(proof[step], where // 3), *proof[step + 1 :]]
    assert not verify_consistency(m, n, old_root, mth(leaves), bad)
