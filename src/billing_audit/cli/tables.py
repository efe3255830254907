"""Terminal output for people: tables that fit the terminal's width, and a progress line on stderr."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

# C0 controls but tab, line feed and carriage return; DEL; C1 (0x9b alone starts an escape sequence).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class TerminalSafe:
    """A terminal stream that shows control characters as `\\xNN` rather than obeying them: sheet
    names, cell values and emails come from Smartsheet's users, and an escape sequence in one must
    not recolour, retitle or clear the auditor's terminal.  Only for a terminal: piped or
    redirected output (an export, JSON) keeps its exact characters."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(_CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def terminal_safe() -> Iterator[None]:
    """stdout and stderr behind TerminalSafe while they are terminals, for the command's run."""
    saved = sys.stdout, sys.stderr
    if sys.stdout.isatty():
        sys.stdout = TerminalSafe(sys.stdout)
    if sys.stderr.isatty():
        sys.stderr = TerminalSafe(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def width() -> int:
    """The terminal's width; piped or redirected (and no COLUMNS set), no limit: a file or a grep
    wants the whole line, not one cut to a terminal that is not there."""
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        return sys.maxsize
    return shutil.get_terminal_size((100, 24)).columns


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value).replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int | None = None) -> str:
    """Rows under their headers, columns as wide as their content; when that is wider than the
    terminal, the widest columns are cut (with an ellipsis) until it fits."""
    limit = max_width if max_width is not None else width()
    text = [[cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in text]) for i, h in enumerate(headers)]
    gap = 2
    while sum(widths) + gap * (len(widths) - 1) > limit and max(widths) > 6:
        widest = widths.index(max(widths))
        widths[widest] -= 1

    def fit(value: str, size: int) -> str:
        return value if len(value) <= size else value[: size - 1] + "…"

    lines = ["  ".join(fit(h, w).ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in text:
        lines.append("  ".join(fit(v, w).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


class Progress:
    """`label: N` on stderr, rewritten at most a few times a second, only on a terminal."""

    def __init__(self, label: str, stream: TextIO | None = None, total: int | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.total = total
        self.count = 0
        self.shown = 0.0
        self.live = self.stream.isatty()

    def step(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if self.live and now - self.shown > 0.2:
            self.shown = now
            if self.total:
                done = min(1.0, self.count / self.total)
                bar = "#" * int(done * 30)
                self.stream.write(f"\r{self.label}: [{bar:<30}] {self.count:,}/{self.total:,}")
            else:
                self.stream.write(f"\r{self.label}: {self.count:,}")
            self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write(f"\r{self.label}: {self.count:,} done\n")
            self.stream.flush()
