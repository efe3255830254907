"""The report as people open it: LibreOffice converts the workbook to PDF, headless Chromium loads
the dashboard (a screenshot, no console error, no request).  Debian's `chromium` and
`libreoffice-calc` are installed by `make test` (its `renderers` target)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from billing_audit.pipeline.reports.build import ReportRequest, build_report
from tests.unit.report_builders import report_deps, week_of_events

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
)


def _program(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"none of {names} is installed: `make test` installs them (apt-get install chromium libreoffice-calc)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    outcome = build_report(
        ReportRequest(kind="weekly"),
        report_deps(week_of_events(400))[0],
        zone=ZoneInfo("America/Chicago"),
        configured_sheets=[101, 102, 103],
    )
    folder = tmp_path_factory.mktemp("report")
    (folder / "report.xlsx").write_bytes(outcome.workbook)
    (folder / "dashboard.html").write_bytes(outcome.dashboard)
    return folder


def test_libreoffice_converts_the_workbook_to_pdf(report: Path, tmp_path: Path) -> None:
    soffice = _program("soffice", "libreoffice")
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(report / "report.xlsx"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stdout + done.stderr.replace("failed to launch javaldx", "")
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 4


def load_in_chromium(page: Path, work: Path, *, width: int = 1280) -> tuple[Path, str, list[str], str]:
    """Screenshot, console lines, page-initiated requests (from Chromium's net log) and the DOM."""
    chromium = _program("chromium", "chromium-browser")
    shot, net_log = work / "shot.png", work / "net.json"
    common = [chromium, *CHROMIUM_FLAGS, f"--window-size={width},1600"]
    run = subprocess.run(
        [
            *common,
            f"--user-data-dir={work / 'profile-1'}",
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={net_log}",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    dom = subprocess.run(
        [*common, f"--user-data-dir={work / 'profile-2'}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return shot, "\n".join(console), page_requests(net_log), dom


def page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for.  Chromium's own traffic (updates, sign-in) has no origin as its
    initiator; anything the page loads is keyed to the file:// page that asked."""
    log = json.loads(net_log.read_text())
    types = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        started = types.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params
        by_page = params.get("initiator") != "not an origin" or "file://" in params.get("network_isolation_key", "")
        if started and by_page:
            urls.append(params["url"])
    return urls


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_chromium_shows_the_dashboard_without_errors_or_requests(report: Path, tmp_path: Path, width: int) -> None:
    shot, console, requests, dom = load_in_chromium(report / "dashboard.html", tmp_path, width=width)
    assert png_size(shot) == (width, 1600) and shot.stat().st_size > 20_000
    assert console == ""
    assert requests == []
    assert "<svg" in dom and 'class="sortable"' in dom and "Violations by risk level" in dom


def test_only_the_dashboards_own_script_runs(report: Path, tmp_path: Path) -> None:
    """Its script is allowed by hash: one that slipped past the escaping is refused, and says so."""
    html = (report / "dashboard.html").read_text(encoding="utf-8")
    page = tmp_path / "injected.html"
    page.write_text(html.replace("</main>", "<script>document.title='injected'</script></main>", 1), encoding="utf-8")
    _shot, console, _requests, dom = load_in_chromium(page, tmp_path)
    assert "Content Security Policy" in console and "<title>injected</title>" not in dom
    assert console.count("Content Security Policy") == 1  # the injected one; the page's own ran


def test_the_checks_see_errors_and_requests(tmp_path: Path) -> None:
    """The same checks on a page that errs and loads an image: they must not pass silently."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><p>x</p><img src="http://127.0.0.1:9/x.png"><script>nope();</script>')
    _shot, console, requests, _dom = load_in_chromium(page, tmp_path)
    assert "nope is not defined" in console
    assert requests == ["http://127.0.0.1:9/x.png"]
