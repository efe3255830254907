"""The stored format of webhook shared secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from billing_audit.settings import WebhookSecretSettings, load
from billing_audit.store.secrets import (
    PENDING_WINDOW,
    SecretFormatError,
    SecretsManagerSecrets,
    WebhookSecret,
    parse_secret,
    secret_name,
)

NOW = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)


def test_plain_string_is_the_current_secret() -> None:
    assert parse_secret("  abc123 \n") == WebhookSecret(current="abc123")


def test_json_document_round_trips() -> None:
    value = WebhookSecret(current="new", previous="old", previous_until=NOW, pending_since=NOW)
    assert parse_secret(value.dump()) == value
    assert set(json.loads(value.dump())) == {"current", "previous", "previous_until", "pending_since"}


@pytest.mark.parametrize("text", ["", "   ", "{broken", '{"previous": "x"}'])
def test_unusable_values_fail_without_quoting_them(text: str) -> None:
    with pytest.raises(SecretFormatError) as caught:
        parse_secret(text)
    assert "broken" not in str(caught.value)


def test_candidates_honour_the_grace_period() -> None:
    value = WebhookSecret(current="new", previous="old", previous_until=NOW)
    assert value.candidates(NOW) == ["new", "old"]
    assert value.candidates(NOW + timedelta(seconds=1)) == ["new"]
    assert WebhookSecret(current="new", previous="old").candidates(NOW) == ["new", "old"]


def test_rotation_pending_expires() -> None:
    value = WebhookSecret(current="s", pending_since=NOW)
    assert value.rotation_pending(NOW + PENDING_WINDOW)
    assert not value.rotation_pending(NOW + PENDING_WINDOW + timedelta(seconds=1))
    assert not WebhookSecret(current="s").rotation_pending(NOW)


def test_repr_never_shows_secret_material() -> None:
    value = WebhookSecret(current="topsecret1", previous="topsecret0")
    assert "topsecret" not in repr(value) and "topsecret" not in str(value) and "topsecret" not in f"{[value]}"


def test_secret_name_uses_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET_PREFIX", raising=False)
    assert secret_name(123, load(WebhookSecretSettings).secret_prefix) == "billing-audit/webhook/123"
    monkeypatch.setenv("WEBHOOK_SECRET_PREFIX", "other/")
    assert secret_name(123, load(WebhookSecretSettings).secret_prefix) == "other/123"


def test_a_webhook_id_without_a_secret_is_not_read_again_at_once() -> None:
    class Missing:
        calls = 0

        def get(self, name: str, **kwargs: object) -> str:
            Missing.calls += 1
            error = {"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}
            raise GetParameterError("not found") from ClientError(error, "GetSecretValue")

    secrets = SecretsManagerSecrets(Missing(), prefix="p/", max_age=60)  # type: ignore[arg-type]
    assert secrets.get(42) is None
    assert secrets.get(42, fresh=True) is None and secrets.get(42) is None
    assert Missing.calls == 1


def test_forced_reads_of_one_webhook_are_rationed() -> None:
    """Wrong signatures each ask for a fresh read; a flood of them must not become a flood of
    Secrets Manager reads, while a rotation right after a few of them is still seen."""
    forced: list[bool] = []

    class Provider:
        def get(self, name: str, *, max_age: int, force_fetch: bool) -> str:
            forced.append(force_fetch)
            return "s3cret"

    now = [100.0]
    secrets = SecretsManagerSecrets(Provider(), prefix="p/", max_age=60, monotonic=lambda: now[0])  # type: ignore[arg-type]
    burst = int(SecretsManagerSecrets.FORCED_BURST)
    for _ in range(50):
        assert secrets.get(7, fresh=True) == WebhookSecret(current="s3cret")
    assert forced.count(True) == burst and len(forced) == 50
    assert secrets.get(8, fresh=True) is not None  # another webhook has its own allowance
    assert forced.count(True) == burst + 1
    now[0] += 1 / SecretsManagerSecrets.FORCED_PER_SECOND
    secrets.get(7, fresh=True)
    secrets.get(7, fresh=True)
    assert forced.count(True) == burst + 2  # one more a second, no new burst
    now[0] += 3600
    for _ in range(50):
        secrets.get(7, fresh=True)
    assert forced.count(True) == 2 * burst + 2  # after a quiet hour, the burst again and no more
