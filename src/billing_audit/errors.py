"""The two kinds of failure every entry point tells apart: bad input, and a dependency that failed.

Adapters and the configuration raise subclasses of these, so the CLI's exit code (and a handler's
log line) follows from what went wrong, never from which command was running.
"""

from __future__ import annotations

from pydantic import ValidationError


class BadInput(ValueError):
    """Input the product cannot use: a file or field named in the one-line message."""


class DependencyFailed(RuntimeError):
    """Something the product depends on failed: Smartsheet or AWS unreachable, throttled or denying,
    or a setting the deployment must provide is missing."""


def first_problem(exc: ValidationError) -> tuple[str, str]:
    """Where the first invalid field is (dotted, "(top level)" for the whole document) and what is wrong.

    Both stay on one line whatever the document holds: a key that is not a plain name (a newline,
    a dot, a space in it) is quoted, and whitespace in the message is collapsed."""
    first = exc.errors()[0]
    where = ".".join(_part(part) for part in first["loc"]) or "(top level)"
    cause = (first.get("ctx") or {}).get("error")
    message = str(cause) if first["type"] == "value_error" and cause is not None else first["msg"]
    # In a JSON document every sequence is a list, whatever type the model holds it in.
    message = _AS_JSON.get(first["type"], message)
    return where, " ".join(str(message).split())


_AS_JSON = {kind: "Input should be a list" for kind in ("tuple_type", "set_type", "frozen_set_type")}


def _part(part: object) -> str:
    text = str(part)
    plain = text and text.isprintable() and not any(c in text for c in ". ")
    return text if plain else repr(text)
