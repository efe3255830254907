"""Links people follow into Smartsheet's web app (not the API): a row of a sheet, per region."""

from __future__ import annotations

from urllib.parse import urlsplit

APP_BASES = {
    "us": "https://app.smartsheet.com",
    "eu": "https://app.smartsheet.eu",
    "gov": "https://app.smartsheetgov.com",
}


def app_base(api_base: str) -> str:
    """The web app's address for an API base ("us", "eu", "gov" or a URL ending in /2.0)."""
    if api_base in APP_BASES:
        return APP_BASES[api_base]
    parts = urlsplit(api_base)
    host = parts.netloc.removeprefix("api.")
    # A stand-in API (the simulator) serves no web app: links then point at its own host.
    return f"{parts.scheme or 'https'}://{'app.' + host if parts.netloc.startswith('api.') else host}"


def row_url(base: str, sheet_id: int, row_id: int) -> str:
    """Opens the sheet with the row selected."""
    return f"{base}/sheets/{sheet_id}?rowId={row_id}"
