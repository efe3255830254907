"""The Smartsheet token never reaches a message, a log or a file: a pasted token's stray line end
is trimmed, one that still cannot go in a header is refused naming only its source, and what an
unexpected error writes to its log file has the token replaced."""

from __future__ import annotations

import pytest

from billing_audit import resources as res
from billing_audit.cli import exits
from billing_audit.resources import MissingSetting
from billing_audit.settings import SmartsheetSettings
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from billing_audit.wiring import smartsheet_token, usable_token

TOKEN = "k7Qx2mZp9LrT4vWb8NcY"


def test_a_pasted_tokens_surrounding_spaces_and_line_end_are_trimmed() -> None:
    settings = SmartsheetSettings.model_validate({res.SMARTSHEET_TOKEN_ENV: f"  {TOKEN}\r\n"})
    assert smartsheet_token(settings) == TOKEN


@pytest.mark.parametrize("bad", [f"{TOKEN[:8]}\n{TOKEN[8:]}", f"{TOKEN} {TOKEN}", f"{TOKEN}\x07", f"{TOKEN}é", " \n"])
def test_a_token_no_header_can_carry_is_refused_naming_only_its_source(bad: str) -> None:
    with pytest.raises(MissingSetting) as refused:
        usable_token(bad, "secret prod/smartsheet")
    message = str(refused.value)
    assert message.startswith("the Smartsheet token in secret prod/smartsheet ")
    assert TOKEN[:8] not in message and TOKEN[8:] not in message


def test_a_header_the_http_library_refuses_is_an_error_naming_its_type_not_the_header() -> None:
    # Built around wiring's check, as a test or a future caller might: the adapter still says
    # nothing of the header it could not send.
    client = SdkSmartsheet(token=f"{TOKEN}\n", api_base="http://127.0.0.1:9/2.0")
    with pytest.raises(Exception) as failed:
        client.sheet_changes(1, after_version=None, modified_since=None)
    assert TOKEN not in str(failed.value)
    # Raised `from None`: a traceback (a log's, X-Ray's) shows no chained error quoting the header.
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    assert TOKEN not in "".join(exits.traceback.format_exception(failed.value))


def test_an_unexpected_errors_log_file_holds_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(res.SMARTSHEET_TOKEN_ENV, f"{TOKEN}\n")
    try:
        raise ValueError(f"Invalid header value b'Bearer {TOKEN}\\n'")
    except ValueError as exc:
        log = exits._log_unexpected(exc)
    try:
        text = log.read_text(encoding="utf-8")
    finally:
        log.unlink()
    assert "Invalid header value" in text and TOKEN not in text and "[Smartsheet token]" in text
