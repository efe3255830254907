"""Unit tests are pure: any attempt to open a socket fails the test."""

import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled: None) -> None:
    return None
