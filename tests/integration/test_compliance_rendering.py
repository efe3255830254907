"""The compliance reports as people open them: LibreOffice converts each workbook to PDF, headless
Chromium loads each page (a screenshot, no console error, no request), as the audit reports."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from billing_audit.pipeline.compliance import build_compliance
from billing_audit.pipeline.reports.compliance_render import render_compliance_html, render_compliance_workbook
from tests.integration.test_report_rendering import _program, load_in_chromium, png_size
from tests.unit.compliance_builders import CONFIG, SINCE, UNTIL, compliance_deps


@pytest.fixture(scope="module", params=["SOX", "GDPR"])
def report(request, tmp_path_factory) -> tuple[str, Path]:
    built = build_compliance(request.param, SINCE, UNTIL, CONFIG, compliance_deps())
    folder = tmp_path_factory.mktemp(request.param.lower())
    (folder / "compliance.xlsx").write_bytes(render_compliance_workbook(built))
    (folder / "compliance.html").write_text(render_compliance_html(built), encoding="utf-8")
    return request.param, folder


def test_libreoffice_converts_the_workbook_to_pdf(report: tuple[str, Path], tmp_path: Path) -> None:
    _standard, folder = report
    done = subprocess.run(
        [
            _program("soffice", "libreoffice"),
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(folder / "compliance.xlsx"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    pdf = (tmp_path / "compliance.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 3


def test_chromium_shows_the_page_without_errors_or_requests(report: tuple[str, Path], tmp_path: Path) -> None:
    standard, folder = report
    shot, console, requests, dom = load_in_chromium(folder / "compliance.html", tmp_path, width=390)
    assert png_size(shot) == (390, 1600) and shot.stat().st_size > 20_000
    assert console == "" and requests == []
    assert f"Billing Audit {standard} compliance report" in dom and 'class="sortable"' in dom
