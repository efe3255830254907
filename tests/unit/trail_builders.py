"""A logged, sealed trail in memory for the trail tests, and a software signer standing in for KMS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from billing_audit.domain.trail import Digest
from billing_audit.pipeline.trail import leaf_lines, log_events, seal
from billing_audit.store.digests import SIGNING_ALGORITHM, MemoryDigestStore
from billing_audit.store.memory import MemoryEventStore
from billing_audit.store.trail import MemoryTrail
from tests.unit.report_builders import NOW, week_of_events


class LocalSigner:
    """ECDSA P-256 over SHA-256 like the KMS key, with a key made in this process."""

    def __init__(self, key_id: str = "local-key") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = key_id
        self.algorithm = SIGNING_ALGORITHM

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message, ec.ECDSA(hashes.SHA256()))

    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )


@dataclass
class SealedTrail:
    store: MemoryEventStore
    trail: MemoryTrail
    digests: MemoryDigestStore
    signer: LocalSigner
    digest: Digest

    def export(self, now: datetime = NOW) -> list[bytes]:
        return [line for line, _ in leaf_lines(self.trail, now)]


def records_of(store: MemoryEventStore) -> dict[str, dict[str, object]]:
    return {event_id: event.to_record() for event_id, event in store.events.items()}


def sealed_trail(count: int = 40, retention_days: int | None = None) -> SealedTrail:
    store = MemoryEventStore()
    trail = MemoryTrail(lambda: records_of(store), retention_days=retention_days)
    events = week_of_events(count)
    # Two writers' batches: the log takes them in the order they were stored.
    for start in range(0, count, 7):
        batch = events[start : start + 7]
        log_events(store.add(batch), batch, trail)
    digests, signer = MemoryDigestStore(), LocalSigner()
    seal(trail, digests, signer, NOW)
    digest = digests.latest()
    assert digest is not None
    return SealedTrail(store, trail, digests, signer, digest)
