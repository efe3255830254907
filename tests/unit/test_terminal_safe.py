"""Text from Smartsheet's users reaches the auditor's terminal as text: an escape sequence in a
sheet name or cell is shown, not obeyed; output that is not a terminal keeps its characters."""

from __future__ import annotations

import io
import sys

import pytest

from billing_audit.cli import main
from billing_audit.cli.tables import TerminalSafe, terminal_safe

HOSTILE = "Line\x1b[31m RED \x1b]0;title\x07 Crew\x9b2J\x7f"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_control_characters_are_shown_as_escapes_and_line_ends_kept() -> None:
    out = Tty()
    TerminalSafe(out).write(f"{HOSTILE}\tok\r\n")
    assert out.getvalue() == "Line\\x1b[31m RED \\x1b]0;title\\x07 Crew\\x9b2J\\x7f\tok\r\n"


def test_only_a_terminal_is_guarded_and_each_stream_is_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal, piped = Tty(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", piped)
    with terminal_safe():
        print(HOSTILE)
        print(HOSTILE, file=sys.stderr)
    assert "\x1b" not in terminal.getvalue() and "\\x1b[31m" in terminal.getvalue()
    assert piped.getvalue() == f"{HOSTILE}\n"  # a pipe or a file gets exactly what was written
    assert sys.stdout is terminal and sys.stderr is piped


def test_the_command_prints_through_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    # A refusal quoting a hostile argument: argparse's own message, shown not obeyed.
    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(SystemExit):
        main(["events", "query", "--since", f"2026{HOSTILE}"])
    assert "\x1b" not in err.getvalue() and "\\x1b[31m" in err.getvalue()
