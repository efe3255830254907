"""Integration fixtures: moto's server and the Smartsheet simulator, both on loopback, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing_audit.local.cloud import LocalCloud


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as local:
        local.provision()
        yield local
