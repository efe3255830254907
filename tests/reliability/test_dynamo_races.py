"""Conditional-check races in DynamoDB (the local cloud: the stack on moto's server, each writer a
thread with its own boto3 session, all released at once).

- Four writers store, log and claim the same events, each in its own order (a scan and callbacks
  replaying the same changes): each event is stored once and reported new to one writer, logged
  once in one unbroken chain, and claimed for alerting by one writer.
- Four invocations open a scan run for the same sheet (the run is the sheet's checkpoint): one
  opens it, the others are told a run is open and leave nothing behind; two invocations draining
  it together lose no row marked done, and closing it twice closes it once.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any, TypeVar

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS
from boto3.dynamodb.conditions import Key

from billing_audit import resources as res
from billing_audit.domain.trail import leaf_hash
from billing_audit.pipeline.trail import log_events
from billing_audit.store.dynamo import DynamoEventStore, DynamoRunStore
from billing_audit.store.interfaces import RunInProgress
from billing_audit.store.trail import DynamoTrail
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import local_lambda_environment
from tests.unit.report_builders import week_of_events

pytestmark = pytest.mark.reliability

WRITERS = 4
RACE_ATTEMPTS = 3
T = TypeVar("T")


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    DEFAULT_PROVIDERS.clear()
    with local_lambda_environment(), LocalCloud() as local:
        local.provision()
        yield local
    DEFAULT_PROVIDERS.clear()


def _together(work: Callable[[int], T], count: int = WRITERS) -> list[T]:
    """`work(i)` in `count` threads released by one barrier; every result, or the first error raised."""
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    def start(index: int) -> None:
        barrier.wait()
        run(index)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]


def _tables() -> tuple[Any, Any]:
    """This thread's own session: boto3 sessions and resources are not shared between threads."""
    dynamodb = boto3.session.Session().resource("dynamodb")
    return dynamodb.Table(os.environ[res.STATE_TABLE.env_var]), dynamodb.Table(os.environ[res.EVENTS_TABLE.env_var])


def _emptied(*tables: Any) -> None:
    """Every item of each table deleted (a fresh start for another race on the same stack)."""
    for table in tables:
        keys = [key["AttributeName"] for key in table.key_schema]
        with table.batch_writer() as batch:
            for item in _scanned(table):
                batch.delete_item(Key={key: item[key] for key in keys})


def _scanned(table: Any) -> Iterator[dict[str, Any]]:
    page = table.scan()
    yield from page["Items"]
    while "LastEvaluatedKey" in page:
        page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        yield from page["Items"]


def _race_events_once(seed: int) -> list[int]:
    """Four writers store, log and claim the same events, each in its own order; everything checked.
    Returns how many events were new to each writer."""
    events = week_of_events(120, seed=seed)
    ids = sorted(event.event_id for event in events)
    assert len(set(ids)) == len(ids)
    prepared = []
    for index in range(WRITERS):  # sessions are made here: making them is not thread-safe
        state, table = _tables()
        mine = list(events)
        random.Random(index).shuffle(mine)
        prepared.append((DynamoEventStore(table), DynamoTrail(state, table), mine))

    def write(index: int) -> tuple[list[str], list[str]]:
        store, trail, mine = prepared[index]
        new = store.add(mine)
        log_events(new, mine, trail)
        return [event.event_id for event in new], store.claim_alerts([event.event_id for event in mine]).claimed

    results = _together(write)
    news = Counter(event_id for new, _ in results for event_id in new)
    claims = Counter(event_id for _, claimed in results for event_id in claimed)
    assert sorted(news) == ids and set(news.values()) == {1}  # new to exactly one writer
    assert sorted(claims) == ids and set(claims.values()) == {1}  # claimed by exactly one writer
    state, table = _tables()
    stored = [event.event_id for event in DynamoEventStore(table).all_events()]
    assert sorted(stored) == ids
    entries = list(DynamoTrail(state, table).entries())
    assert sorted(entry.event_id for entry in entries) == ids  # each logged once
    assert [entry.position for entry in entries] == list(range(len(ids)))
    for before, entry in pairwise(entries):  # one chain, each entry on the last
        assert (entry.prev, entry.prev_event_id) == (before.leaf_hash, before.event_id)
    records = DynamoTrail(state, table).stored_records(ids)
    assert all(leaf_hash(entry.line_for(records[entry.event_id])) == entry.leaf_hash for entry in entries)
    return [len(new) for new, _ in results]


def test_writers_racing_on_the_same_events_store_log_and_claim_each_once(cloud: LocalCloud) -> None:
    # A race is only a race if the writers overlap: on a busy machine one thread can store every
    # event before the others are scheduled.  Such a run is still checked, then raced again afresh.
    for attempt in range(RACE_ATTEMPTS):
        if attempt:
            _emptied(*_tables())
        new_to_each = _race_events_once(seed=16 + attempt)
        print(f"\nevents new to each writer: {new_to_each}")
        if sum(1 for count in new_to_each if count) > 1:
            return
    pytest.fail(f"no race in {RACE_ATTEMPTS} attempts: one writer stored every event each time")


def test_invocations_racing_for_one_sheets_scan_run_open_it_once_and_lose_no_progress(cloud: LocalCloud) -> None:
    sheet_id = 7001
    stores = [DynamoRunStore(_tables()[0]) for _ in range(WRITERS)]

    def open_run(index: int) -> str | None:
        try:
            stores[index].begin(sheet_id, f"run-{index}", f"plan of run {index}".encode() * 2000)
        except RunInProgress:
            return None
        return f"run-{index}"

    opened = [run_id for run_id in _together(open_run) if run_id is not None]
    assert len(opened) == 1
    [run_id] = opened
    state = _tables()[0]
    current = DynamoRunStore(state).current(sheet_id)
    assert current is not None and current[0] == run_id
    assert current[1] == f"plan of run {run_id.removeprefix('run-')}".encode() * 2000
    items = state.query(KeyConditionExpression=Key("pk").eq(f"run#{sheet_id}"))["Items"]
    assert {str(item["sk"]).split("#")[1] for item in items} == {run_id}  # the losers left no plan

    rows = list(range(1, 201))

    def drain(index: int) -> None:
        # Two invocations of the run at once (a retried step overlapping the first): interleaved rows.
        for row_id in rows[index::2]:
            stores[index].mark_done(sheet_id, run_id, row_id)

    _together(drain, count=2)
    assert DynamoRunStore(state).done(sheet_id, run_id) == set(rows)
    _together(lambda index: stores[index].end(sheet_id, run_id), count=2)
    assert DynamoRunStore(state).open_sheets() == []
    assert state.query(KeyConditionExpression=Key("pk").eq(f"run#{sheet_id}"))["Items"] == []
