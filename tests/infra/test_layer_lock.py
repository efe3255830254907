"""Lambda runs what the tests run: every layer is exported from uv.lock, the lock the venv is synced from."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import pytest
from infra.layer_requirements import (
    LAYER_EXTRAS,
    RUNTIME_PROVIDED,
    expected,
    layer_pins,
    pinned_versions,
    requirements_file,
)
from packaging.utils import canonicalize_name

LAYERS = sorted(LAYER_EXTRAS)


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@pytest.mark.parametrize("layer", LAYERS)
def test_every_package_a_layer_ships_is_the_version_these_tests_run_on(layer: str) -> None:
    pins = pinned_versions(requirements_file(layer).read_text(encoding="utf-8"))
    assert pins, f"layers/{layer}/requirements.txt pins nothing"
    differ = {name: (pinned, _installed(name)) for name, pinned in pins.items() if _installed(name) != pinned}
    assert not differ, f"layer {layer}: pinned vs installed here: {differ} (run `make install`)"


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_file_is_what_the_lock_exports_now(layer: str) -> None:
    current = requirements_file(layer).read_text(encoding="utf-8")
    assert current == expected(layer), f"layers/{layer}/requirements.txt is stale or edited by hand: run `make layers`"


def test_the_light_layer_ships_the_runtime_dependencies_but_not_what_lambda_provides() -> None:
    pins = {canonicalize_name(name) for name in pinned_versions(requirements_file("light").read_text(encoding="utf-8"))}
    for needed in ("aws-lambda-powertools", "aws-xray-sdk", "pydantic", "smartsheet-python-sdk"):
        assert needed in pins
    assert not pins & set(RUNTIME_PROVIDED)
    # No function imports the ML stack: it is not in the light layer.
    assert not pins & {"scikit-learn", "numpy", "scipy"}


EXPORT = """\
pydantic==2.14.4 \\
    --hash=sha256:aaa \\
    --hash=sha256:bbb
botocore==1.44.8 \\
    --hash=sha256:ccc
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:ddd
tomli==2.0.1 ; python_full_version < '3.12' \\
    --hash=sha256:eee
exceptiongroup==1.2.0 ; python_full_version >= '3.12' \\
    --hash=sha256:fff
"""


def test_an_export_is_narrowed_to_lambdas_python_and_platform() -> None:
    pins = layer_pins(EXPORT)
    assert [(pin.name, pin.version, pin.hashes) for pin in pins] == [
        ("pydantic", "2.14.4", ("sha256:aaa", "sha256:bbb")),
        ("exceptiongroup", "1.2.0", ("sha256:fff",)),
    ]


def test_an_export_without_hashes_is_refused() -> None:
    with pytest.raises(ValueError, match="hashes"):
        layer_pins("pydantic==2.14.4\n")
