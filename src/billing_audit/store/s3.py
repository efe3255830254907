"""Objects in S3: run outputs and reports, handed to people only through presigned links."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

LINK_SECONDS = 3600


class S3Blobs:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def signing(cls, bucket: str) -> S3Blobs:
        """With SigV4 against the bucket's regional endpoint: presigned URLs that work in every region."""
        config = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
        return cls(boto3.client("s3", config=config), bucket)

    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store the object with its SHA-256 (S3 verifies it on arrival); returns the hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": digest},
        )
        return digest

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def link(self, key: str, seconds: int = LINK_SECONDS) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
        )
