"""Pseudonyms for people's emails in what leaves the product (reports, exports), never in the trail.

A pseudonym is a keyed hash (HMAC-SHA256) of the normalised email: the same person always gets the
same pseudonym under one key, so a report still shows that one person made ten changes, while
nobody without the key can turn a pseudonym back into an email or test a guessed one (a plain hash
could be reversed by hashing a staff list).  The key lives in Secrets Manager (the adapter reads
it); this module only needs its bytes.  Rotating the key changes every pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

from billing_audit.domain.access import AccessReviewResult
from billing_audit.domain.models import AuditEvent

PREFIX = "person-"
# 16 hex digits (64 bits): unique among any plausible number of people, short enough to read.
DIGEST_CHARS = 16
MIN_KEY_BYTES = 16
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PSEUDONYM = re.compile(rf"^{PREFIX}[0-9a-f]{{{DIGEST_CHARS}}}$")


class Pseudonymizer:
    """Replaces emails by stable keyed pseudonyms (`person-<16 hex>`)."""

    def __init__(self, key: bytes | str) -> None:
        material = key.encode() if isinstance(key, str) else bytes(key)
        if len(material) < MIN_KEY_BYTES:
            raise ValueError(f"a pseudonymisation key needs at least {MIN_KEY_BYTES} bytes")
        self._key = material

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymizer(<key>)"

    def email(self, value: str) -> str:
        """The pseudonym of one email (case and surrounding spaces do not matter)."""
        digest = hmac.new(self._key, value.strip().lower().encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:DIGEST_CHARS]

    def maybe(self, value: str | None) -> str | None:
        """`email` for a value that is one; None stays None, and any other text has its emails replaced."""
        if value is None:
            return None
        return self.text(value)

    def text(self, value: str) -> str:
        """Free text with every email inside it replaced (a label such as "Unknown user (a@b.c)")."""
        return _EMAIL.sub(lambda match: self.email(match.group(0)), value)

    def record(self, record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        """A copy of `record` with the named string fields pseudonymised (nested values untouched
        unless named as `field.subfield` for one level of dicts or lists of dicts)."""
        out = dict(record)
        for name in fields:
            head, _, tail = name.partition(".")
            value = out.get(head)
            if not tail:
                if isinstance(value, str):
                    out[head] = self.text(value)
            elif isinstance(value, Mapping):
                out[head] = self.record(value, [tail])
            elif isinstance(value, list):
                out[head] = [self.record(item, [tail]) if isinstance(item, Mapping) else item for item in value]
        return out


def is_pseudonym(value: object) -> bool:
    return isinstance(value, str) and PSEUDONYM.match(value) is not None


def pseudonymize_event(event: AuditEvent, pseudonyms: Pseudonymizer) -> AuditEvent:
    """The event as a report or export shows it: its editor and the emails in its risk factors replaced."""
    factors = [factor.model_copy(update={"label": pseudonyms.text(factor.label)}) for factor in event.risk_factors]
    return event.model_copy(update={"changed_by": pseudonyms.maybe(event.changed_by), "risk_factors": factors})


def pseudonymize_review(result: AccessReviewResult, pseudonyms: Pseudonymizer) -> AccessReviewResult:
    """An access review with every finding's person (and any email in its detail) replaced."""
    findings = [
        finding.model_copy(
            update={"person": pseudonyms.email(finding.person), "detail": pseudonyms.text(finding.detail)}
        )
        for finding in result.findings
    ]
    return result.model_copy(update={"findings": findings})
