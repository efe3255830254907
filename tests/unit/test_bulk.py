import gc

import pytest

from billing_audit.bulk import collector_paused


def test_the_collector_is_off_within_and_back_on_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_on_after_an_error() -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("the step failed")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
