"""Where digests are signed (a KMS asymmetric key) and kept (an Object Lock bucket).

Digests are written under `digests/YYYY/MM/DD/<time>-<tree size>-<hash>.json`; the bucket's default
retention (compliance mode) keeps each one as long as the events it covers may be kept.  The latest
digest's key and hash are also kept in the state table (`trail` / `digest-head`), moved with a
conditional write, so two digest runs can never both chain to the same predecessor.
"""

from __future__ import annotations

import base64
import hashlib
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from billing_audit.domain.trail import Digest
from billing_audit.resources import TRAIL_PARTITION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

DIGEST_PREFIX = "digests/"
# The KMS key spec and the one signing algorithm the product uses with it.
KEY_SPEC = "ECC_NIST_P256"
SIGNING_ALGORITHM = "ECDSA_SHA_256"


class DigestChainBroken(RuntimeError):
    """Another digest was written since the one this run chained to."""


class Signer(Protocol):
    key_id: str
    algorithm: str

    def sign(self, message: bytes) -> bytes: ...

    def public_key_pem(self) -> str: ...


class DigestStore(Protocol):
    def put(self, digest: Digest, previous: Digest | None) -> str:
        """Keep a digest that chains to `previous`; returns its key.  Raises DigestChainBroken when
        `previous` is no longer the latest."""

    def latest(self) -> Digest | None: ...

    def all(self) -> Iterator[Digest]:
        """Every digest, oldest first."""


def pem_from_der(der: bytes) -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


class KmsSigner:
    def __init__(self, client: Any, key_id: str) -> None:
        self.client = client
        self.key_id = key_id
        self.algorithm = SIGNING_ALGORITHM

    def sign(self, message: bytes) -> bytes:
        answer = self.client.sign(
            KeyId=self.key_id, Message=message, MessageType="RAW", SigningAlgorithm=self.algorithm
        )
        return bytes(answer["Signature"])

    def public_key_pem(self) -> str:
        return pem_from_der(bytes(self.client.get_public_key(KeyId=self.key_id)["PublicKey"]))


def digest_key(digest: Digest) -> str:
    moment = datetime.fromisoformat(digest.digest_time.replace("Z", "+00:00")).astimezone(UTC)
    # The hash keeps two digests of one second and one size (a manual seal beside the schedule's)
    # from being versions of one key.
    stamp = f"{moment:%Y%m%dT%H%M%SZ}-{digest.tree_size:012d}-{digest.digest_hash()[:12]}"
    return f"{DIGEST_PREFIX}{moment:%Y/%m/%d}/{stamp}.json"


def in_chain_order(digests: list[Digest]) -> list[Digest]:
    """Digests oldest first, each after the one it names as previous; when they do not form one
    chain (a digest missing or forged), by time, so the check reports where the chain breaks."""
    following: dict[str | None, list[Digest]] = {}
    for digest in digests:
        following.setdefault(digest.previous_digest_hash, []).append(digest)
    ordered: list[Digest] = []
    current: str | None = None
    while len(following.get(current, [])) == 1 and len(ordered) < len(digests):
        digest = following[current][0]
        ordered.append(digest)
        current = digest.digest_hash()
    if len(ordered) == len(digests):
        return ordered
    return sorted(digests, key=lambda digest: (digest.digest_time, digest.tree_size))


class S3DigestStore:
    HEAD_KEY: dict[str, str] = {"pk": TRAIL_PARTITION, "sk": "digest-head"}

    def __init__(self, s3: Any, bucket: str, state: Table) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.state = state

    def put(self, digest: Digest, previous: Digest | None) -> str:
        key = digest_key(digest)
        body = digest.to_json()
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": hashlib.sha256(body).hexdigest()},
        )
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(sk)"}
            if previous is None
            else {
                "ConditionExpression": "#h = :previous",
                "ExpressionAttributeNames": {"#h": "digest_hash"},
                "ExpressionAttributeValues": {":previous": previous.digest_hash()},
            }
        )
        try:
            self.state.put_item(
                Item={**self.HEAD_KEY, "key": key, "digest_hash": digest.digest_hash(), "tree_size": digest.tree_size},
                **condition,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # The object stays (Object Lock keeps it); it chains to a digest that is not the latest.
            raise DigestChainBroken(
                f"another digest was written since {previous.digest_time if previous else 'none'}"
            ) from None
        return key

    def latest(self) -> Digest | None:
        item = self.state.get_item(Key=self.HEAD_KEY, ConsistentRead=True).get("Item")
        return None if item is None else self._get(str(item["key"]))

    def _get(self, key: str) -> Digest:
        return Digest.model_validate_json(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def all(self) -> Iterator[Digest]:
        paginator = self.s3.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=DIGEST_PREFIX):
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
        yield from in_chain_order([self._get(key) for key in sorted(keys)])


class MemoryDigestStore:
    def __init__(self) -> None:
        self.digests: list[Digest] = []

    def put(self, digest: Digest, previous: Digest | None) -> str:
        latest = self.latest()
        if (latest.digest_hash() if latest else None) != (previous.digest_hash() if previous else None):
            raise DigestChainBroken("another digest was written meanwhile")
        self.digests.append(digest)
        return digest_key(digest)

    def latest(self) -> Digest | None:
        return self.digests[-1] if self.digests else None

    def all(self) -> Iterator[Digest]:
        yield from list(self.digests)
