"""The two kinds of failure every entry point tells apart: bad input, and a dependency that failed.

Adapters and the configuration raise subclasses of these, so the CLI's exit code (and a handler's
log line) follows from what went wrong, never from which command was running.
"""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel, ValidationError


class BadInput(ValueError):
    """Input the product cannot use: a file or field named in the one-line message."""


class DependencyFailed(RuntimeError):
    """Something the product depends on failed: Smartsheet or AWS unreachable, throttled or denying,
    or a setting the deployment must provide is missing."""


def first_problem(exc: ValidationError, model: type[BaseModel] | None = None) -> tuple[str, str]:
    """Where the first invalid field is (dotted, "(top level)" for the whole document) and what is wrong.

    Both stay on one line whatever the document holds: a key that is not a plain name (a newline,
    a dot, a space in it) is quoted, and whitespace in the message is collapsed.  Worded for a JSON
    document, not for Python: an unknown key lists the keys known there (given the `model`)."""
    first = exc.errors()[0]
    where = ".".join(_part(part) for part in first["loc"]) or "(top level)"
    cause = (first.get("ctx") or {}).get("error")
    message = str(cause) if first["type"] == "value_error" and cause is not None else first["msg"]
    message = _AS_JSON.get(first["type"], message)
    if first["type"] == "extra_forbidden" and model is not None:
        known = _keys_at(model, first["loc"][:-1])
        if known:
            message = f"unknown key (known: {', '.join(known)})"
    return where, " ".join(str(message).split())


# In a JSON document every sequence is a list and every mapping an object, whatever Python holds them in.
_AS_JSON = {kind: "Input should be a list" for kind in ("tuple_type", "set_type", "frozen_set_type", "list_type")}
_AS_JSON |= {kind: "Input should be a JSON object" for kind in ("model_type", "dict_type", "model_attributes_type")}
_AS_JSON["extra_forbidden"] = "unknown key"


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the object at `loc` may hold, where `loc` leads through models (and lists of them)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue  # an item of a list: `current` is already the item's model
        field = next((f for name, f in current.model_fields.items() if (f.alias or name) == part), None)
        current = _model_in(field.annotation) if field is not None else None
    return sorted(f.alias or name for name, f in current.model_fields.items()) if current is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model an annotation holds: itself, or inside Optional, list, tuple or Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in get_args(annotation):
        found = _model_in(inner)
        if found is not None:
            return found
    return None


def _part(part: object) -> str:
    text = str(part)
    plain = text and text.isprintable() and not any(c in text for c in ". ")
    return text if plain else repr(text)
