"""Real bundling (pip, no Docker): every function plus its layers stays under Lambda's 250 MB.

One synth with `bundling=local`; layers come from `.build/layers/` when already built.  The sizes
are printed and written to `.build/lambda-sizes.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra.constants import FUNCTIONS

from tests.infra.conftest import ROOT, synth_template

LIMIT = 250 * 1024 * 1024
WEBHOOK_CODE_LIMIT = 5 * 1024 * 1024  # the webhook's own code: a few handlers and billing_audit
WEBHOOK_TOTAL_LIMIT = 60 * 1024 * 1024  # webhook + light layer: cold starts stay quick
MB = 1024 * 1024
TOOLING_PACKAGES = ("smartsheet_sim", "billing_audit_local")


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("cdk-bundled")
    template = synth_template(outdir, {"bundling": "local"})
    return outdir, template


def _asset_dir(outdir: Path, resource: dict[str, Any]) -> Path:
    path = outdir / resource["Metadata"]["aws:asset:path"]
    assert path.is_dir(), path
    return path


@pytest.mark.timeout(1200)
def test_every_function_with_its_layers_fits_in_lambda(bundled: tuple[Path, dict[str, Any]]) -> None:
    outdir, template = bundled
    resources = template["Resources"]
    sizes: dict[str, dict[str, float]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        name = resource["Metadata"]["aws:cdk:path"].split("/")[-3]
        code = tree_size(_asset_dir(outdir, resource))
        layers = sum(
            tree_size(_asset_dir(outdir, resources[layer["Ref"]])) for layer in resource["Properties"]["Layers"]
        )
        tooling = [p for p in _asset_dir(outdir, resource).rglob("*") if p.name in TOOLING_PACKAGES]
        assert not tooling, f"{name}: the local tooling is in the asset: {tooling}"
        sizes[name] = {"code_mb": round(code / MB, 2), "layers_mb": round(layers / MB, 1)}
        sizes[name]["total_mb"] = round((code + layers) / MB, 1)
        assert code + layers < LIMIT, f"{name}: {(code + layers) / MB:.1f} MB unzipped exceeds 250 MB"
    assert len(sizes) == len(FUNCTIONS)
    report = "\n".join(
        f"  {name:<14} code {s['code_mb']:>6.2f} MB + layers {s['layers_mb']:>6.1f} MB = {s['total_mb']:>6.1f} MB"
        for name, s in sorted(sizes.items(), key=lambda item: -item[1]["total_mb"])
    )
    print(f"\nLambda sizes, unzipped (limit 250 MB):\n{report}")
    (ROOT / ".build").mkdir(exist_ok=True)
    (ROOT / ".build" / "lambda-sizes.json").write_text(json.dumps(sizes, indent=1, sort_keys=True))
    webhook = sizes["Webhook"]
    assert webhook["code_mb"] * MB < WEBHOOK_CODE_LIMIT, webhook
    assert webhook["total_mb"] * MB < WEBHOOK_TOTAL_LIMIT, webhook


def test_the_layers_are_built_for_lambda_and_pruned(bundled: tuple[Path, dict[str, Any]]) -> None:
    outdir, template = bundled
    # Two layers: the light one on every function, the ML one where the handler imports the model.
    layers = {
        resource["Properties"]["Description"].split(":")[0]: _asset_dir(outdir, resource) / "python"
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    }
    [light] = [path for description, path in layers.items() if description.startswith("powertools")]
    [ml] = [path for description, path in layers.items() if description.startswith("scikit-learn")]
    for layer in (light, ml):
        assert not list(layer.rglob("__pycache__"))
        # The runtime's boto3/botocore are used; a copy in the layer would only add weight.
        assert not (layer / "botocore").exists() and not (layer / "boto3").exists()
    for package in ("aws_lambda_powertools", "pydantic", "pydantic_core", "smartsheet", "openpyxl", "tzdata"):
        assert (light / package).is_dir(), package
    for package in ("sklearn", "skops", "numpy", "scipy", "joblib"):
        assert (ml / package).is_dir(), package
    # The ML layer sits on top of the light one: no package twice.
    shared_dirs = {path.name for path in ml.iterdir() if path.is_dir()} & {path.name for path in light.iterdir()}
    assert shared_dirs <= {"bin"}, shared_dirs  # console scripts only
    # Built for the Lambda platform, not for this machine.
    [core] = list(light.glob("pydantic_core/_pydantic_core*.so"))
    assert "cpython-312-x86_64-linux-gnu" in core.name
    assert list(ml.glob("numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so"))
