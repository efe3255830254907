"""Webhooks of the simulator: registration, verification, and signed callbacks to a local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta
from typing import Any

import pytest
import smartsheet
from smartsheet.exceptions import ApiError

from smartsheet_sim import Simulator
from smartsheet_sim.scenario import ScenarioEdit
from smartsheet_sim.testing import CallbackReceiver
from tests.unit.builders import at


def create(client: Any, url: str, sheet_id: int = 4001, **extra: Any) -> Any:
    spec = {
        "name": "audit",
        "callbackUrl": url,
        "scope": "sheet",
        "scopeObjectId": sheet_id,
        "events": ["*.*"],
        "version": 1,
        **extra,
    }
    return client.Webhooks.create_webhook(smartsheet.models.Webhook(spec)).result


def enable(client: Any, webhook_id: int) -> Any:
    return client.Webhooks.update_webhook(webhook_id, smartsheet.models.Webhook({"enabled": True})).result


def enabled_hook(client: Any, receiver: CallbackReceiver, **extra: Any) -> Any:
    hook = create(client, receiver.url, **extra)
    return enable(client, hook.id)


def edit(sim: Simulator, when: datetime, row: int = 1, **cells: Any) -> None:
    values = {k.replace("_", " "): v for k, v in cells.items()}
    sim.apply_edit(
        ScenarioEdit.model_validate({"at": when, "by": "carl@example.com", "sheet": 4001, "row": row, "set": values})
    )


def verify(secret: str, received: Any) -> bool:
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers["Smartsheet-Hmac-SHA256"])


def test_create_list_get_reset_delete(client: Any, receiver: CallbackReceiver) -> None:
    hook = create(client, receiver.url)
    assert (hook.enabled, str(hook.status), hook.scope_object_id) == (False, "NEW_NOT_VERIFIED", 4001)
    assert hook.shared_secret and hook.id > 10**15
    assert list(hook.events) == ["*.*"] and hook.version == 1
    assert receiver.received == []  # creating does not verify
    listed = client.Webhooks.list_webhooks()
    assert [h.id for h in listed.data] == [hook.id]
    others = [create(client, receiver.url, sheet_id=4002).id for _ in range(2)]
    # Newest first; since 2025-08-04 the totals are -1, so clients page until a page comes back short.
    first = client.Webhooks.list_webhooks(page_size=2, page=1)
    assert ([h.id for h in first.data], first.total_count, first.total_pages) == ([others[1], others[0]], -1, -1)
    page = client.Webhooks.list_webhooks(page_size=2, page=2)
    assert ([h.id for h in page.data], page.total_count, page.total_pages) == ([hook.id], -1, -1)
    assert client.Webhooks.list_webhooks(page_size=2, page=3).data == []
    reset = client.Webhooks.reset_shared_secret(hook.id)
    assert reset.result.shared_secret and reset.result.shared_secret != hook.shared_secret
    assert client.Webhooks.get_webhook(hook.id).shared_secret == reset.result.shared_secret
    client.Webhooks.delete_webhook(hook.id)
    with pytest.raises(ApiError) as caught:
        client.Webhooks.get_webhook(hook.id)
    assert caught.value.error.result.code == 1006


def test_create_rejects_unknown_sheets_and_bad_bodies(client: Any, receiver: CallbackReceiver) -> None:
    with pytest.raises(ApiError) as caught:
        create(client, receiver.url, sheet_id=999)
    assert caught.value.error.result.code == 1006
    with pytest.raises(ApiError):
        create(client, receiver.url, events=["row.*"])


def test_enabling_verifies_synchronously(client: Any, receiver: CallbackReceiver) -> None:
    hook = create(client, receiver.url)
    enabled = enable(client, hook.id)
    assert (enabled.enabled, str(enabled.status)) == (True, "ENABLED")
    [challenge] = receiver.challenges
    value = challenge.headers["Smartsheet-Hook-Challenge"]
    assert challenge.json() == {"challenge": value, "webhookId": hook.id}


def test_a_body_echo_also_verifies(client: Any, receiver: CallbackReceiver) -> None:
    receiver.echo_in_body = True
    assert str(enabled_hook(client, receiver).status) == "ENABLED"


def test_failed_verification(client: Any, receiver: CallbackReceiver) -> None:
    receiver.answer_challenges = False
    hook = enabled_hook(client, receiver)
    assert (hook.enabled, str(hook.status)) == (False, "DISABLED_VERIFICATION_FAILED")


def test_signed_callbacks_carry_ids_users_and_scenario_times(
    client: Any, sim: Simulator, receiver: CallbackReceiver
) -> None:
    hook = enabled_hook(client, receiver)
    sim.apply_edits_through(at("2026-11-10T15:00:00Z"))
    results = sim.deliver_callbacks()
    assert [(r.kind, r.status_code, r.outcome) for r in results] == [("callback", 200, "delivered")]
    [callback] = receiver.callbacks
    assert callback.headers["Content-Type"] == "application/json"
    assert verify(hook.shared_secret, callback)
    body = callback.json()
    assert set(body) == {"nonce", "timestamp", "webhookId", "scope", "scopeObjectId", "events"}
    assert (body["webhookId"], body["scope"], body["scopeObjectId"]) == (hook.id, "sheet", 4001)
    quantity = sim.sheet(4001).column_by_title("Quantity").id  # type: ignore[union-attr]
    events = body["events"]
    assert events[0] == {
        "objectType": "sheet",
        "eventType": "updated",
        "id": 4001,
        "userId": 5002,
        "timestamp": "2026-11-10T15:00:00Z",
    }
    assert {
        "objectType": "cell",
        "eventType": "updated",
        "rowId": 1,
        "columnId": quantity,
        "userId": 5002,
        "timestamp": "2026-11-10T15:00:00Z",
    } in events
    assert {
        "objectType": "row",
        "eventType": "updated",
        "id": 1,
        "userId": 5002,
        "timestamp": "2026-11-10T15:00:00Z",
    } in events
    assert all("changeAgent" not in e for e in events)
    assert sim.deliver_callbacks() == []  # nothing left


def test_deletes_adds_and_unknown_users(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    enabled_hook(client, receiver)
    sim.set_time(at("2026-11-11T00:00:00Z"))
    sim.apply_edits_through(at("2026-11-20T00:00:00Z"))
    sim.deliver_callbacks()
    events = [e for c in receiver.callbacks for e in c.json()["events"]]
    assert {
        "objectType": "row",
        "eventType": "deleted",
        "id": 2,
        "userId": 5001,
        "timestamp": "2026-11-11T09:00:00Z",
    } in events
    created = [e for e in events if e["eventType"] == "created"]
    assert created == [
        {
            "objectType": "row",
            "eventType": "created",
            "id": 77,
            "userId": sim.user_id_for("eve@contractor.example"),
            "timestamp": "2026-11-12T10:00:00Z",
        }
    ]


def test_api_writes_carry_the_change_agent(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    enabled_hook(client, receiver)
    sim.set_time(at("2026-11-15T00:00:00Z"))
    client.with_change_agent("billing-audit")
    row = smartsheet.models.Row()
    row.id = 1
    row.cells.append({"column_id": sim.sheet(4001).column_by_title("Status").id, "value": "Approved"})  # type: ignore[union-attr]
    client.Sheets.update_rows(4001, [row])
    sim.deliver_callbacks()
    events = receiver.callbacks[0].json()["events"]
    assert events and all(e["changeAgent"] == "billing-audit" and e["userId"] == 5001 for e in events)
    assert all(e["timestamp"] == "2026-11-15T00:00:00Z" for e in events)


def test_events_within_a_minute_share_a_callback(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    enabled_hook(client, receiver)
    t0 = at("2026-11-10T15:00:00Z")
    edit(sim, t0, Quantity=20)
    edit(sim, t0 + timedelta(seconds=30), Quantity=21)
    edit(sim, t0 + timedelta(seconds=60), Quantity=22)
    edit(sim, t0 + timedelta(seconds=61), Quantity=23)
    edit(sim, t0 + timedelta(minutes=5), Quantity=24)
    sim.deliver_callbacks()
    stamps = [sorted({e["timestamp"] for e in c.json()["events"]}) for c in receiver.callbacks]
    assert stamps == [
        ["2026-11-10T15:00:00Z", "2026-11-10T15:00:30Z", "2026-11-10T15:01:00Z"],
        ["2026-11-10T15:01:01Z"],
        ["2026-11-10T15:05:00Z"],
    ]


def test_duplicates_resend_the_same_body(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    hook = enabled_hook(client, receiver)
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    edit(sim, at("2026-11-10T17:00:00Z"), Quantity=21)
    results = sim.deliver_callbacks(duplicate=True)
    assert [r.kind for r in results] == ["callback", "duplicate", "callback", "duplicate"]
    first, again, second, again2 = receiver.callbacks
    assert first.body == again.body and second.body == again2.body and first.body != second.body
    assert first.json()["nonce"] == again.json()["nonce"]
    assert all(verify(hook.shared_secret, c) for c in receiver.callbacks)


def test_non_200_success_disables_and_later_events_are_lost(
    client: Any, sim: Simulator, receiver: CallbackReceiver
) -> None:
    hook = enabled_hook(client, receiver)
    receiver.status = 204
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    results = sim.deliver_callbacks()
    assert [(r.status_code, r.outcome) for r in results] == [(204, "disabled")]
    disabled = client.Webhooks.get_webhook(hook.id)
    assert (disabled.enabled, str(disabled.status)) == (False, "DISABLED_CALLBACK_FAILED")
    edit(sim, at("2026-11-10T16:00:00Z"), Quantity=21)  # while disabled: never delivered
    receiver.status = 200
    assert str(enable(client, hook.id).status) == "ENABLED"
    assert sim.deliver_callbacks() == []
    edit(sim, at("2026-11-10T17:00:00Z"), Quantity=22)
    sim.deliver_callbacks()
    assert [c.json()["events"][0]["timestamp"] for c in receiver.callbacks] == [
        "2026-11-10T15:00:00Z",
        "2026-11-10T17:00:00Z",
    ]


def test_errors_are_retried_with_the_same_body(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    enabled_hook(client, receiver)
    receiver.statuses = [500, 429]
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    assert [r.outcome for r in sim.deliver_callbacks()] == ["retry"]
    sim.set_time(at("2026-11-10T15:01:00Z"))  # the first retry waits a minute
    assert [(r.kind, r.status_code, r.outcome) for r in sim.deliver_callbacks()] == [("retry", 429, "retry")]
    sim.set_time(at("2026-11-10T15:03:00Z"))  # the second, two more
    assert [(r.kind, r.status_code, r.outcome) for r in sim.deliver_callbacks()] == [("retry", 200, "delivered")]
    bodies = {c.body for c in receiver.callbacks}
    assert len(receiver.callbacks) == 3 and len(bodies) == 1


# The waits before each of the 14 retries: 7 doubling from a minute, then every 3 hours (NOTES.md).
RETRY_WAITS = [60 * 2**n for n in range(7)] + [3 * 3600] * 7


def test_fourteen_retries_on_the_virtual_clock_then_disabled(
    client: Any, sim: Simulator, receiver: CallbackReceiver
) -> None:
    hook = enabled_hook(client, receiver)
    receiver.status = 503
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    first = sim.deliver_callbacks()
    assert [(r.kind, r.status_code, r.outcome) for r in first] == [("callback", 503, "retry")]
    waits, outcomes = [], []
    while (due := sim.webhooks.next_retry_at(hook.id)) is not None:
        waits.append(round((due - sim.now).total_seconds()))
        sim.set_time(due - timedelta(seconds=1))
        assert sim.deliver_callbacks() == []  # a second early: nothing is sent
        sim.set_time(due)
        [result] = sim.deliver_callbacks()
        assert result.kind == "retry" and result.status_code == 503
        outcomes.append(result.outcome)
    assert waits == RETRY_WAITS
    assert outcomes == ["retry"] * 13 + ["disabled"]
    assert len(receiver.callbacks) == 15 and len({c.body for c in receiver.callbacks}) == 1
    assert sim.now - at("2026-11-10T15:00:00Z") == timedelta(seconds=sum(RETRY_WAITS))
    disabled = client.Webhooks.get_webhook(hook.id)
    assert (disabled.enabled, str(disabled.status)) == (False, "DISABLED_CALLBACK_FAILED")
    assert disabled.stats.last_callback_attempt_retry_count == 14
    assert not [r for r in receiver.callbacks if "newWebhookStatus" in r.json()]  # no status callback


def test_later_callbacks_wait_behind_a_retry(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    enabled_hook(client, receiver)
    receiver.statuses = [502]
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    edit(sim, at("2026-11-10T15:05:00Z"), Quantity=21)
    [failed] = sim.deliver_callbacks()
    assert (failed.outcome, failed.retry_at) == ("retry", at("2026-11-10T15:06:00Z"))
    assert sim.deliver_callbacks() == []  # one at a time: the second waits for the first
    sim.set_time(at("2026-11-10T15:06:00Z"))
    assert [(r.kind, r.outcome) for r in sim.deliver_callbacks()] == [("retry", "delivered"), ("callback", "delivered")]
    stamps = [c.json()["events"][0]["timestamp"] for c in receiver.callbacks]
    assert stamps == ["2026-11-10T15:00:00Z", "2026-11-10T15:00:00Z", "2026-11-10T15:05:00Z"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 429, 499, 500, 502, 503, 504, 599])
def test_retried_answers(client: Any, sim: Simulator, receiver: CallbackReceiver, status: int) -> None:
    hook = enabled_hook(client, receiver)
    receiver.statuses = [status]
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    [failed] = sim.deliver_callbacks()
    assert (failed.status_code, failed.outcome, failed.retry_at) == (status, "retry", at("2026-11-10T15:01:00Z"))
    assert str(sim.webhooks.get(hook.id).status) == "ENABLED"
    sim.set_time(at("2026-11-10T15:01:00Z"))
    assert [(r.kind, r.status_code, r.outcome) for r in sim.deliver_callbacks()] == [("retry", 200, "delivered")]


@pytest.mark.parametrize("status", [201, 202, 204, 206, 299, 300, 302, 304, 308, 309, 350, 399, 410])
def test_other_answers_disable_without_a_retry(
    client: Any, sim: Simulator, receiver: CallbackReceiver, status: int
) -> None:
    hook = enabled_hook(client, receiver)
    receiver.status = status  # a 3xx without a Location: nothing to follow
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    results = sim.deliver_callbacks()
    assert [(r.kind, r.status_code, r.outcome, r.retry_at) for r in results] == [("callback", status, "disabled", None)]
    disabled = client.Webhooks.get_webhook(hook.id)
    assert (disabled.enabled, str(disabled.status)) == (False, "DISABLED_CALLBACK_FAILED")
    assert str(status) in disabled.disabled_details
    assert sim.webhooks.next_retry_at() is None and sim.webhooks.pending_count(hook.id) == 0
    sim.set_time(at("2026-11-12T15:00:00Z"))
    assert sim.deliver_callbacks() == [] and len(receiver.callbacks) == 1  # not retried, no status callback


def test_a_timeout_is_retried(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    sim.options.callback_timeout_seconds = 0.2
    enabled_hook(client, receiver)
    receiver.delay_seconds = 1.0
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    [result] = sim.deliver_callbacks()
    assert (result.status_code, result.outcome, result.error) == (None, "retry", "ReadTimeout")
    receiver.delay_seconds = 0.0
    sim.set_time(result.retry_at)  # type: ignore[arg-type]
    assert [(r.kind, r.outcome) for r in sim.deliver_callbacks()] == [("retry", "delivered")]


def test_connection_errors_are_retried(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    hook = enabled_hook(client, receiver)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = f"http://127.0.0.1:{dead_port}/callback"
    client.Webhooks.update_webhook(hook.id, smartsheet.models.Webhook({"callbackUrl": dead}))
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    [result] = sim.deliver_callbacks()
    assert (result.status_code, result.outcome) == (None, "retry") and result.error
    client.Webhooks.update_webhook(hook.id, smartsheet.models.Webhook({"callbackUrl": receiver.url}))
    sim.set_time(at("2026-11-10T15:01:00Z"))
    assert [r.outcome for r in sim.deliver_callbacks()] == ["delivered"]


def test_a_challenge_precedes_every_nth_callback(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    sim.options.challenge_every = 3
    enabled_hook(client, receiver)
    for n in range(7):
        edit(sim, at("2026-11-10T15:00:00Z") + timedelta(minutes=2 * n), Quantity=100 + n)
    kinds = [r.kind for r in sim.deliver_callbacks()]
    assert kinds == ["callback"] * 3 + ["challenge"] + ["callback"] * 3 + ["challenge", "callback"]
    receiver.answer_challenges = False
    for n in range(3):
        edit(sim, at("2026-11-11T15:00:00Z") + timedelta(minutes=2 * n), Quantity=200 + n)
    results = sim.deliver_callbacks()
    assert [(r.kind, r.outcome) for r in results][-1] == ("challenge", "verification_failed")


def test_disabling_for_an_inaccessible_scope_sends_a_status_callback(
    client: Any, sim: Simulator, receiver: CallbackReceiver
) -> None:
    hook = enabled_hook(client, receiver)
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    sim.disable_webhook(hook.id, status="DISABLED_SCOPE_INACCESSIBLE")
    results = sim.deliver_callbacks()
    assert [r.kind for r in results] == ["status"]
    [callback] = receiver.callbacks
    body = callback.json()
    assert body["newWebhookStatus"] == "DISABLED_SCOPE_INACCESSIBLE" and "events" not in body
    assert verify(hook.shared_secret, callback)
    assert str(client.Webhooks.get_webhook(hook.id).status) == "DISABLED_SCOPE_INACCESSIBLE"


@pytest.mark.parametrize(
    "status",
    [
        "DISABLED_BY_OWNER",
        "DISABLED_CALLBACK_FAILED",
        "DISABLED_ADMINISTRATIVE",
        "DISABLED_APP_REVOKED",
        "DISABLED_VERIFICATION_FAILED",
    ],
)
def test_other_disables_send_no_status_callback(
    client: Any, sim: Simulator, receiver: CallbackReceiver, status: str
) -> None:
    hook = enabled_hook(client, receiver)
    sim.disable_webhook(hook.id, status)
    assert sim.deliver_callbacks() == [] and receiver.callbacks == []
    assert str(client.Webhooks.get_webhook(hook.id).status) == status


def test_a_status_callback_smartsheet_would_not_send_can_be_forced(
    client: Any, sim: Simulator, receiver: CallbackReceiver
) -> None:
    hook = enabled_hook(client, receiver)
    sim.disable_webhook(hook.id, "DISABLED_BY_OWNER", status_callback=True)
    assert [(r.kind, r.payload["newWebhookStatus"]) for r in sim.deliver_callbacks()] == [
        ("status", "DISABLED_BY_OWNER")
    ]


def test_a_scope_made_inaccessible_then_accessible_again(
    client: Any, sim: Simulator, receiver: CallbackReceiver
) -> None:
    hook = enabled_hook(client, receiver)
    other = enabled_hook(client, receiver, sheet_id=4002)
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    assert sim.make_scope_inaccessible(4001) == [hook.id]
    # Disabled: the pending callback is dropped; one status callback says why.
    [status] = sim.deliver_callbacks()
    assert (status.webhook_id, status.kind, status.status_code) == (hook.id, "status", 200)
    [callback] = receiver.callbacks
    assert verify(hook.shared_secret, callback)
    body = callback.json()
    assert set(body) == {"nonce", "timestamp", "webhookId", "scope", "scopeObjectId", "newWebhookStatus"}
    assert (body["webhookId"], body["scopeObjectId"], body["newWebhookStatus"]) == (
        hook.id,
        4001,
        "DISABLED_SCOPE_INACCESSIBLE",
    )
    # The token's owner no longer sees the sheet, nor can enable its webhook.
    with pytest.raises(ApiError) as caught:
        client.Sheets.get_sheet(4001)
    assert caught.value.error.result.code == 1006
    assert 4001 not in [s.id for s in client.Sheets.list_sheets(include_all=True).data]
    with pytest.raises(ApiError) as refused:
        enable(client, hook.id)
    assert refused.value.error.result.code == 1151
    hidden = client.Webhooks.get_webhook(hook.id)
    assert (hidden.enabled, str(hidden.status)) == (False, "DISABLED_SCOPE_INACCESSIBLE")
    assert str(client.Webhooks.get_webhook(other.id).status) == "ENABLED"
    edit(sim, at("2026-11-10T16:00:00Z"), Quantity=21)  # while inaccessible: never delivered
    assert sim.deliver_callbacks() == []

    # Access restored: Smartsheet re-enables the webhook by itself and says so.
    assert sim.make_scope_accessible(4001) == [hook.id]
    assert sim.make_scope_accessible(4001) == []  # once
    [revived] = sim.deliver_callbacks()
    assert (revived.kind, revived.payload["newWebhookStatus"]) == ("status", "ENABLED")
    assert "events" not in revived.payload
    assert client.Sheets.get_sheet(4001).id == 4001
    back = client.Webhooks.get_webhook(hook.id)
    assert (back.enabled, str(back.status)) == (True, "ENABLED")
    edit(sim, at("2026-11-10T17:00:00Z"), Quantity=22)
    assert [(r.kind, r.outcome) for r in sim.deliver_callbacks()] == [("callback", "delivered")]
    stamps = [e["timestamp"] for c in receiver.callbacks if "events" in c.json() for e in c.json()["events"]]
    assert set(stamps) == {"2026-11-10T17:00:00Z"}


def test_a_hook_disabled_otherwise_is_not_revived_with_its_scope(
    client: Any, sim: Simulator, receiver: CallbackReceiver
) -> None:
    hook = enabled_hook(client, receiver)
    client.Webhooks.update_webhook(hook.id, smartsheet.models.Webhook({"enabled": False}))
    assert sim.make_scope_inaccessible(4001) == []  # not ENABLED: left as it is
    assert sim.make_scope_accessible(4001) == []
    assert sim.deliver_callbacks() == [] and receiver.callbacks == []
    assert str(client.Webhooks.get_webhook(hook.id).status) == "DISABLED_BY_OWNER"


def test_owner_disabling_through_the_api(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    hook = enabled_hook(client, receiver)
    updated = client.Webhooks.update_webhook(hook.id, smartsheet.models.Webhook({"enabled": False})).result
    assert (updated.enabled, str(updated.status)) == (False, "DISABLED_BY_OWNER")
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    assert sim.deliver_callbacks() == []  # no status callback either


def test_subscope_limits_cells_but_not_deletions(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    quantity = sim.sheet(4001).column_by_title("Quantity").id  # type: ignore[union-attr]
    enabled_hook(client, receiver, subscope={"columnIds": [quantity]})
    edit(sim, at("2026-11-10T15:00:00Z"), Status="Approved")
    assert sim.deliver_callbacks() == []
    edit(sim, at("2026-11-10T16:00:00Z"), Status="Invoiced", Quantity=30)
    sim.apply_edit(
        ScenarioEdit.model_validate(
            {"at": "2026-11-10T18:00:00Z", "by": "ana@example.com", "sheet": 4001, "row": 5, "delete": True}
        )
    )
    sim.deliver_callbacks()
    first, second = (c.json()["events"] for c in receiver.callbacks)
    assert [e.get("columnId") for e in first if e["objectType"] == "cell"] == [quantity]
    assert {"objectType": "row", "eventType": "deleted", "id": 5} in [
        {k: e[k] for k in ("objectType", "eventType", "id") if k in e} for e in second
    ]


def test_other_sheets_do_not_call_back(client: Any, sim: Simulator, receiver: CallbackReceiver) -> None:
    enabled_hook(client, receiver, sheet_id=4002)
    edit(sim, at("2026-11-10T15:00:00Z"), Quantity=20)
    assert sim.deliver_callbacks() == []
    assert json.loads(json.dumps(sim.change_log[0].to_callback_event()))["id"] == 4001
