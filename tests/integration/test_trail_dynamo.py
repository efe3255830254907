"""The trail's log in DynamoDB (moto's server over HTTP): writers racing for the head end in one
consistent tree holding each event once, and the stored trail verifies against a KMS-signed digest
kept in the Object Lock bucket."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import boto3

from billing_audit.domain.trail import Frontier, tree_root
from billing_audit.pipeline.trail import log_events, seal, verify_stored
from billing_audit.resources import EVENTS_TABLE, STATE_TABLE
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.trail import DynamoTrail
from billing_audit_local.cloud import LocalCloud
from tests.unit.report_builders import week_of_events

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


def tables() -> tuple[Any, Any]:
    dynamodb = boto3.resource("dynamodb")
    return dynamodb.Table(os.environ[EVENTS_TABLE.env_var]), dynamodb.Table(os.environ[STATE_TABLE.env_var])


def test_concurrent_writers_make_one_tree_with_each_event_once(cloud: LocalCloud) -> None:
    events = week_of_events(120)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        # Each writer stores and logs overlapping slices, as the scan and the webhook path do.
        try:
            events_table, state_table = tables()
            store, trail = DynamoEventStore(events_table), DynamoTrail(state_table, events_table)
            mine = events[offset * 20 : offset * 20 + 40]
            for start in range(0, len(mine), 5):
                batch = mine[start : start + 5]
                log_events(store.add(batch), batch, trail)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    events_table, state_table = tables()
    trail = DynamoTrail(state_table, events_table)
    entries = list(trail.entries())
    ids = [entry.event_id for entry in entries]
    assert sorted(ids) == sorted(event.event_id for event in events)
    assert [entry.position for entry in entries] == list(range(len(entries)))
    for before, after in pairwise(entries):
        assert after.prev == before.leaf_hash and after.prev_event_id == before.event_id
    head = trail.head()
    assert head.size == len(entries) and head.frontier.root() == tree_root(e.leaf_hash for e in entries)
    assert Frontier.from_hex(head.size, head.frontier.to_hex()).root() == head.frontier.root()


def test_a_kms_signed_digest_in_the_object_lock_bucket_verifies_the_stored_trail(cloud: LocalCloud) -> None:
    from billing_audit.store.digests import KmsSigner, S3DigestStore

    events_table, state_table = tables()
    store, trail = DynamoEventStore(events_table, retention_days=3650), DynamoTrail(state_table, events_table, 3650)
    events = week_of_events(30)
    log_events(store.add(events), events, trail)
    kms, s3 = boto3.client("kms"), boto3.client("s3")
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    bucket = "trail-digests-test"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    signer, digests = KmsSigner(kms, key_id), S3DigestStore(s3, bucket, state_table)
    first = seal(trail, digests, signer, NOW)
    more = week_of_events(36)[30:]
    log_events(store.add(more), more, trail)
    second = seal(trail, digests, signer, NOW + timedelta(hours=1))
    assert second.previous_digest_hash == first.digest_hash()
    kept = list(digests.all())
    assert [d.tree_size for d in kept] == [30, 36]
    key = signer.public_key_pem().encode()
    assert verify_stored(trail, kept, key, NOW).verdict.ok
    # The bucket keeps what it was given: a locked digest cannot be deleted.
    listed = s3.list_object_versions(Bucket=bucket)["Versions"][0]
    try:
        s3.delete_object(Bucket=bucket, Key=listed["Key"], VersionId=listed["VersionId"])
    except s3.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied"
    else:
        raise AssertionError("a digest under Object Lock was deleted")
    # Tampering with a stored record is found at its position.
    victim = next(iter(trail.entries()))
    events_table.update_item(
        Key={"event_id": victim.event_id},
        UpdateExpression="SET #r = :r",
        ExpressionAttributeNames={"#r": "record"},
        ExpressionAttributeValues={":r": json.dumps({"event_id": victim.event_id})},
    )
    found = [(f.kind, f.position, f.event_id) for f in verify_stored(trail, kept, key, NOW).verdict.findings]
    assert ("edited", 0, victim.event_id) in found


def test_the_digest_function_signs_the_log_as_deployed(cloud: LocalCloud) -> None:
    from billing_audit.pipeline.trail import verify_stored
    from billing_audit.settings import TrailSettings, load
    from billing_audit.wiring import trail_dependencies
    from billing_audit_local.lambdas import invoke, local_lambda_environment

    events_table, state_table = tables()
    store, trail = DynamoEventStore(events_table), DynamoTrail(state_table, events_table)
    events = week_of_events(12)
    log_events(store.add(events), events, trail)
    with local_lambda_environment():
        first = invoke("digest", {"job": "digest", "scheduled_time": "2026-11-20T15:00:00Z"})
        more = week_of_events(15)[12:]
        log_events(store.add(more), more, trail)
        second = invoke("digest", {"job": "digest", "scheduled_time": "2026-11-20T16:00:00Z"})
    assert (first["tree_size"], second["tree_size"]) == (12, 15)
    deps = trail_dependencies(load(TrailSettings))
    digests = list(deps.digests.all())
    assert [d.tree_size for d in digests] == [12, 15]
    assert digests[1].previous_digest_hash == digests[0].digest_hash()
    key = deps.signer.public_key_pem().encode()
    assert verify_stored(deps.trail, digests, key, NOW).verdict.ok
