"""The tamper-evident trail: canonical leaves, an RFC 6962/9162 Merkle tree, its proofs, and the
checks that find where a copy of the trail differs from what was sealed.  Pure: bytes in, verdicts out.

The leaf of an event is one line of JSON: the event's stored record with a `trail` object added
(`position` in the log, `prev`: the previous leaf's hash, `prev_event_id`), serialised with sorted
keys, no spaces, UTF-8 (`leaf_line`).  That line is exactly what an export writes, so verifying an
export hashes its lines and never re-serialises anything.  Leaf hash = SHA-256(0x00 || line); node
hash = SHA-256(0x01 || left || right) (RFC 6962 section 2.1, RFC 9162 section 2.1.1).

The `prev` link makes the leaves a hash chain as well as a tree: walking it back from the last leaf
hash (which the signed digest carries) authenticates each line on its own, so a difference is
reported at its position; the Merkle root gives the short inclusion and consistency proofs.

No maintained Python library fits: pymerkle (the one maintained RFC 9162 implementation on PyPI)
keeps its own storage (memory or SQLite) and recomputes states from it, while this log lives in
DynamoDB and needs an O(log n) root from a compact frontier kept in one item; the algorithms below
are the RFC's own (MTH, PATH, SUBPROOF and their verification procedures), checked by property tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from billing_audit.domain.pseudonym import Pseudonymizer

TRAIL_KEY = "trail"
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962: the hash of an empty tree
# The first line of an export may describe it; it is never a leaf (see `is_header`).
EXPORT_HEADER_KEY = "billing_audit_export"


def canonical(value: Any) -> bytes:
    """The one serialisation of JSON values the trail hashes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def leaf_line(record: Mapping[str, Any], position: int, prev: bytes | None, prev_event_id: str | None) -> bytes:
    """The leaf of an event appended at `position` after the leaf whose hash is `prev`."""
    link = {"position": position, "prev": prev.hex() if prev else None, "prev_event_id": prev_event_id}
    return canonical({**record, TRAIL_KEY: link})


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + line).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


@dataclass
class Frontier:
    """The roots of the perfect subtrees covering the leaves so far (one per set bit of `size`, the
    largest first): enough to append a leaf and to give the root in O(log n), so the log's head item
    holds the whole tree's state."""

    size: int = 0
    peaks: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:
            node = node_hash(self.peaks.pop(), node)
            size >>= 1
        self.peaks.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        node = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            node = node_hash(peak, node)
        return node

    def to_hex(self) -> list[str]:
        return [peak.hex() for peak in self.peaks]

    @classmethod
    def from_hex(cls, size: int, peaks: Sequence[str]) -> Frontier:
        frontier = cls(size, [bytes.fromhex(peak) for peak in peaks])
        if len(frontier.peaks) != bin(size).count("1"):
            raise ValueError(f"a frontier of {size} leaves has {bin(size).count('1')} peaks, not {len(peaks)}")
        return frontier


def tree_root(leaves: Iterable[bytes]) -> bytes:
    """MTH of the leaf hashes, in one pass and O(log n) memory."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    frontier = Frontier()
    for index in range(lo, hi):
        frontier.append(leaves[index])
    return frontier.root()


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 section 2.1.1: the sibling hashes, leaf level first."""
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of {size}")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(_mth(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaves, lo, lo + k))
            lo += k
    return proof[::-1]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 section 2.1.3.2), None if it is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, proof) == root


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int | None = None) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 6962 section 2.1.2."""
    new_size = len(leaves) if new_size is None else new_size
    if not 0 < old_size <= new_size <= len(leaves):
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [_mth(leaves, lo, hi)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, lo, lo + k, complete), _mth(leaves, lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), _mth(leaves, lo, lo + k)]

    return subproof(old_size, 0, new_size, True)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --- Finding where a copy of the trail differs from what was sealed ---------------------------

FindingKind = Literal[
    "edited", "deleted", "inserted", "misindexed", "truncated", "expired", "unsealed", "malformed", "log"
]
# What only says an event is gone by design, or not yet sealed, is not tampering.
BENIGN: frozenset[str] = frozenset({"expired"})


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    position: int | None
    event_id: str | None
    detail: str


class Verdict(BaseModel):
    """The outcome of a check: `ok` when every sealed position holds its leaf (or expired).

    `verified` counts lines the seal vouches for; `unvouched` the lines that only chain to a line
    that fails (edited, or missing): below a break the export's own links are all there is, and a
    forged copy links itself just as well, so they are neither verified nor accused."""

    tree_size: int
    root_hash: str
    lines: int = 0
    verified: int = 0
    unvouched: int = 0
    expired: int = 0
    findings: list[Finding] = []

    @property
    def ok(self) -> bool:
        return all(finding.kind in BENIGN for finding in self.findings)

    def summary(self) -> dict[str, Any]:
        return {**self.model_dump(), "ok": self.ok}


@dataclass(frozen=True)
class Leaf:
    """One line of a copy of the trail, as it claims to be: its hash and the link it carries."""

    hash: bytes
    position: int
    event_id: str | None
    prev: bytes | None
    prev_event_id: str | None
    expired: bool = False  # a stand-in for an event past its retention: only its hash is left


_HEADER_START = b'{"' + EXPORT_HEADER_KEY.encode() + b'"'


def is_header(line: bytes) -> bool:
    return line.startswith(_HEADER_START)


def parse_leaf(line: bytes, seal_key: bytes | None = None) -> Leaf | None:
    """What a line claims (None when it is not a trail line at all).

    A line is either a leaf (its hash is computed here) or, for an expired event, a stand-in
    `{"expired": true, "leaf_hash": ..., "event_id": ..., "trail": {...}}` that carries the hash
    the log kept.  A pseudonymised line (see `pseudonymize_leaf`) counts only when its seal holds
    under `seal_key`."""
    try:
        value = json.loads(line)
        if "seal" in value:
            return _open_sealed(value, seal_key)
        link = value[TRAIL_KEY]
        position = link["position"]
        prev = bytes.fromhex(link["prev"]) if link.get("prev") else None
        if not isinstance(position, int) or position < 0:
            return None
        if value.get("expired") is True and "leaf_hash" in value:
            return Leaf(
                bytes.fromhex(value["leaf_hash"]),
                position,
                value.get("event_id"),
                prev,
                link.get("prev_event_id"),
                expired=True,
            )
        return Leaf(leaf_hash(line), position, value.get("event_id"), prev, link.get("prev_event_id"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# --- Pseudonymised exports --------------------------------------------------------------------

SEAL_CONTEXT = b"billing-audit/pseudonymised-leaf/1"


def _seal_key(key: bytes) -> bytes:
    """The key that seals pseudonymised lines: derived from the pseudonymisation key, never it."""
    return hmac.new(key, SEAL_CONTEXT, hashlib.sha256).digest()


def _pseudonymize(value: Any, pseudo: Pseudonymizer) -> Any:
    if isinstance(value, str):
        return pseudo.text(value)
    if isinstance(value, list):
        return [_pseudonymize(item, pseudo) for item in value]
    if isinstance(value, dict):
        return {k: (v if k == TRAIL_KEY else _pseudonymize(v, pseudo)) for k, v in value.items()}
    return value


def pseudonymize_leaf(line: bytes, key: bytes) -> bytes:
    """A leaf with every email in it replaced by its keyed pseudonym (domain.pseudonym), carrying
    the original leaf's hash and a seal: an HMAC, under a key derived from the pseudonymisation
    key, over the pseudonymised line and that hash.  The hash places it in the signed tree; the
    seal says the key's holder derived this line from that leaf.  Without the key neither the
    emails nor the seal can be checked, so such an export verifies only with the key."""
    value = _pseudonymize(json.loads(line), Pseudonymizer(key))
    value["leaf_hash"] = leaf_hash(line).hex()
    value["seal"] = hmac.new(_seal_key(key), canonical(value), hashlib.sha256).hexdigest()
    return canonical(value)


def _open_sealed(value: dict[str, Any], seal_key: bytes | None) -> Leaf | None:
    if seal_key is None:
        return None
    seal = value.pop("seal")
    expected = hmac.new(_seal_key(seal_key), canonical(value), hashlib.sha256).hexdigest()
    if not isinstance(seal, str) or not hmac.compare_digest(seal, expected):
        return None
    link = value[TRAIL_KEY]
    prev = bytes.fromhex(link["prev"]) if link.get("prev") else None
    return Leaf(
        bytes.fromhex(value["leaf_hash"]), int(link["position"]), value.get("event_id"), prev, link.get("prev_event_id")
    )


def expired_stand_in(event_id: str, position: int, leaf: bytes, prev: bytes | None, prev_event_id: str | None) -> bytes:
    """The export line of an event whose record expired: the hash the log kept stands in for it."""
    link = {"position": position, "prev": prev.hex() if prev else None, "prev_event_id": prev_event_id}
    return canonical({"event_id": event_id, "expired": True, "leaf_hash": leaf.hex(), TRAIL_KEY: link})


def fast_root(lines: Iterable[bytes]) -> tuple[int, bytes]:
    """(leaf count, root) of lines taken as the leaves in order: the whole check when nothing is
    wrong and the lines are in trail order, at the cost of hashing them.  Frontier.append inlined:
    this loop is what verifying a million events costs (bench/bench_trail.py)."""
    sha = hashlib.sha256
    peaks: list[bytes] = []
    pop, push = peaks.pop, peaks.append
    size = 0
    first = True
    for line in lines:
        if first:
            first = False
            if is_header(line):  # only an export's first line can be its header
                continue
        node = sha(LEAF_PREFIX + line).digest()
        carry = size
        while carry & 1:
            node = sha(NODE_PREFIX + pop() + node).digest()
            carry >>= 1
        push(node)
        size += 1
    return size, Frontier(size, peaks).root()


def check_leaves(
    leaves: Iterable[Leaf | None],
    *,
    tree_size: int,
    root: bytes,
    last_leaf: bytes | None,
    last_event_id: str | None,
) -> Verdict:
    """Where a set of claimed leaves differs from a sealed tree of `tree_size` leaves.

    Each position is checked against the hash the chain vouches for, walking back from the sealed
    last leaf: the leaf at p must hash to what the leaf at p+1 names as `prev`.  The whole is then
    checked against the sealed root.  The order of the lines does not matter: a leaf's position is
    inside it, so moving an event changes its line.
    """
    verdict = Verdict(tree_size=tree_size, root_hash=root.hex())
    findings = verdict.findings
    by_position: dict[int, list[Leaf]] = {}
    for number, leaf in enumerate(leaves):
        verdict.lines += 1
        if leaf is None:
            findings.append(
                Finding(kind="malformed", position=None, event_id=None, detail=f"line {number + 1} is not a trail line")
            )
            continue
        if leaf.position >= tree_size:
            findings.append(
                Finding(
                    kind="unsealed",
                    position=leaf.position,
                    event_id=leaf.event_id,
                    detail=f"position {leaf.position} is beyond the digest's {tree_size} leaves",
                )
            )
            continue
        by_position.setdefault(leaf.position, []).append(leaf)

    chain: list[bytes | None] = [None] * tree_size
    expected, expected_id = last_leaf, last_event_id
    vouched = last_leaf is not None  # from the sealed last leaf down, until the chain breaks
    for position in range(tree_size - 1, -1, -1):
        found = by_position.get(position, [])
        match = next((leaf for leaf in found if expected is not None and leaf.hash == expected), None)
        if match is None and expected is None and len(found) == 1:
            match = found[0]  # after a gap the chain cannot vouch; the root still may
            vouched = False
        if match is not None:
            chain[position] = match.hash
            if match.expired:
                verdict.expired += 1
                findings.append(
                    Finding(
                        kind="expired",
                        position=position,
                        event_id=match.event_id,
                        detail="past its retention: only its hash is kept",
                    )
                )
            elif vouched:
                verdict.verified += 1
            else:
                verdict.unvouched += 1
            for other in found:
                if other is not match:
                    findings.append(
                        Finding(
                            kind="inserted",
                            position=position,
                            event_id=other.event_id,
                            detail="a second line claims this position",
                        )
                    )
            expected, expected_id = match.prev, match.prev_event_id
            continue
        if found:
            for leaf in found:
                findings.append(
                    Finding(
                        kind="edited",
                        position=position,
                        event_id=leaf.event_id,
                        detail="its line does not hash to the leaf the trail sealed",
                    )
                )
            chain[position] = found[0].hash
            # Its links still find later edits, but what it links to is only as good as it is.
            expected, expected_id = found[0].prev, found[0].prev_event_id
            vouched = False
            continue
        findings.append(
            Finding(kind="deleted", position=position, event_id=expected_id, detail="no line holds this position")
        )
        expected, expected_id = None, None
        vouched = False
    _mark_truncation(findings, tree_size)
    if all(node is not None for node in chain):
        computed = tree_root(node for node in chain if node is not None)
        if computed == root:  # the sealed root vouches for every leaf at once
            verdict.verified += verdict.unvouched
            verdict.unvouched = 0
        elif not any(f.kind in ("edited", "deleted", "inserted") for f in findings):
            findings.append(
                Finding(
                    kind="log",
                    position=None,
                    event_id=None,
                    detail="the leaves chain together but their root is not the sealed root",
                )
            )
    return verdict


def _mark_truncation(findings: list[Finding], tree_size: int) -> None:
    """Deletions that run to the last sealed position are a truncation: say so on each."""
    deleted = {f.position for f in findings if f.kind == "deleted"}
    if tree_size - 1 not in deleted:
        return
    start = tree_size - 1
    while start - 1 in deleted:
        start -= 1
    for index, finding in enumerate(findings):
        if finding.kind == "deleted" and finding.position is not None and finding.position >= start:
            findings[index] = finding.model_copy(
                update={
                    "kind": "truncated",
                    "detail": f"the copy ends before position {start}; the digest seals {tree_size} leaves",
                }
            )


def check_export(
    open_lines: Callable[[], Iterable[bytes]],
    *,
    tree_size: int,
    root: bytes,
    last_leaf: bytes | None,
    last_event_id: str | None,
    seal_key: bytes | None = None,
) -> Verdict:
    """Check an export (its lines, header allowed) against a sealed tree.  First the fast path:
    the lines in order are the leaves and their root is the sealed root; only when it is not are
    the lines parsed and placed by position to find what differs."""
    count, computed = fast_root(open_lines())
    if count == tree_size and computed == root:
        return Verdict(tree_size=tree_size, root_hash=root.hex(), lines=count, verified=count)
    leaves = (parse_leaf(line, seal_key) for line in open_lines() if not is_header(line))
    return check_leaves(leaves, tree_size=tree_size, root=root, last_leaf=last_leaf, last_event_id=last_event_id)


# --- Digests: what is signed -------------------------------------------------------------------

DIGEST_FORMAT = "billing-audit-trail-digest/1"


class Digest(BaseModel):
    """A signed statement of the log's state, in the manner of CloudTrail's digest files.

    The signature covers `signed_bytes()`: every other field, canonically serialised.  A digest's
    own hash (`digest_hash()`, over all its fields, signature included) is what the next digest
    names as `previous_digest_hash`, so digests form a chain of their own."""

    model_config = ConfigDict(frozen=True)

    format: str = DIGEST_FORMAT
    tree_size: int
    root_hash: str
    last_leaf_hash: str | None
    last_event_id: str | None
    digest_time: str
    previous_digest_hash: str | None
    previous_digest_time: str | None
    previous_tree_size: int | None
    key_id: str
    signing_algorithm: str
    signature: str | None = None  # base64

    def signed_bytes(self) -> bytes:
        return canonical(self.model_dump(exclude={"signature"}))

    def to_json(self) -> bytes:
        return canonical(self.model_dump())

    def digest_hash(self) -> str:
        return hashlib.sha256(self.to_json()).hexdigest()

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hash)

    @property
    def last_leaf(self) -> bytes | None:
        return bytes.fromhex(self.last_leaf_hash) if self.last_leaf_hash else None


class InclusionProof(BaseModel):
    """What `billing-audit prove` prints: the event's leaf line, where it sits, and the path to the
    root of the tree a digest sealed."""

    event_id: str
    leaf_index: int
    tree_size: int
    leaf: str  # the leaf line itself (UTF-8)
    leaf_hash: str
    audit_path: list[str]
    root_hash: str

    def verify(self, digest: Digest) -> list[str]:
        """The reasons the proof fails against this digest (empty when it holds)."""
        problems: list[str] = []
        line = self.leaf.encode()
        if leaf_hash(line).hex() != self.leaf_hash:
            problems.append("the leaf line does not hash to the proof's leaf hash")
        if self.tree_size != digest.tree_size or self.root_hash != digest.root_hash:
            problems.append("the proof is for another tree than the digest seals")
        path = [bytes.fromhex(node) for node in self.audit_path]
        if not verify_inclusion(self.leaf_index, digest.tree_size, leaf_hash(line), path, digest.root):
            problems.append("the audit path does not lead from the leaf to the digest's root")
        parsed = parse_leaf(line)
        if parsed is None or parsed.position != self.leaf_index or parsed.event_id != self.event_id:
            problems.append("the leaf line does not name this event at this position")
        return problems


class ConsistencyProof(BaseModel):
    """What `billing-audit prove --since-digest` prints: the RFC 6962 proof that the tree a later
    digest sealed extends the tree an earlier one sealed (nothing before was changed or dropped)."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: list[str]

    def verify(self, old: Digest, new: Digest) -> list[str]:
        """The reasons the proof fails between these two digests (empty when it holds)."""
        problems: list[str] = []
        if (self.old_size, self.old_root) != (old.tree_size, old.root_hash):
            problems.append("the proof starts from another tree than the earlier digest seals")
        if (self.new_size, self.new_root) != (new.tree_size, new.root_hash):
            problems.append("the proof ends at another tree than the later digest seals")
        path = [bytes.fromhex(node) for node in self.path]
        if not verify_consistency(old.tree_size, new.tree_size, old.root, new.root, path):
            problems.append("the later tree does not extend the earlier one by this proof")
        return problems
