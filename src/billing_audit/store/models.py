"""Where anomaly models are kept: versioned objects in the models bucket, and a pointer to the latest.

Layout under `models/anomaly/`: `<version>/model.skops` (the estimator, skops format),
`<version>/model.json` (features, profiles, calibration, training metrics), and `LATEST` (the
version to score with), written last so a reader never sees a half-saved model.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MODELS_PREFIX = "models/anomaly/"
LATEST = "LATEST"


class ModelStore(Protocol):
    def save(self, version: str, model: bytes, meta: bytes) -> str:
        """Store a model version and make it the latest; returns its key prefix."""

    def latest(self) -> tuple[str, bytes, bytes] | None:
        """(version, model.skops, model.json) of the latest model, or None when there is none yet."""


class S3ModelStore:
    def __init__(self, client: S3Client, bucket: str, prefix: str = MODELS_PREFIX) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": hashlib.sha256(data).hexdigest()},
        )

    def save(self, version: str, model: bytes, meta: bytes) -> str:
        base = f"{self.prefix}{version}/"
        self._put(f"{base}model.skops", model, "application/octet-stream")
        self._put(f"{base}model.json", meta, "application/json")
        self._put(f"{self.prefix}{LATEST}", version.encode(), "text/plain")
        return base

    def latest(self) -> tuple[str, bytes, bytes] | None:
        try:
            version = self._get(f"{self.prefix}{LATEST}").decode().strip()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        base = f"{self.prefix}{version}/"
        return version, self._get(f"{base}model.skops"), self._get(f"{base}model.json")

    def _get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


class MemoryModelStore:
    """Models in this process only: unit tests and local runs without a bucket."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, bytes]] = {}
        self.current: str | None = None
        self.reads = 0

    def save(self, version: str, model: bytes, meta: bytes) -> str:
        self.objects[version] = (model, meta)
        self.current = version
        return f"{MODELS_PREFIX}{version}/"

    def latest(self) -> tuple[str, bytes, bytes] | None:
        self.reads += 1
        if self.current is None:
            return None
        model, meta = self.objects[self.current]
        return self.current, model, meta
