"""Keyed pseudonyms: stable per key, different across keys, case-blind, and never the email."""

from __future__ import annotations

import pytest

from billing_audit.domain.pseudonym import Pseudonymizer, is_pseudonym

KEY = b"k" * 32


def test_same_person_same_pseudonym_whatever_the_case() -> None:
    pseudo = Pseudonymizer(KEY)
    assert pseudo.email("Ana@Example.com ") == pseudo.email("ana@example.com")
    assert is_pseudonym(pseudo.email("ana@example.com"))
    assert "ana" not in pseudo.email("ana@example.com")


def test_different_people_and_keys_differ() -> None:
    one, other = Pseudonymizer(KEY), Pseudonymizer(b"x" * 32)
    assert one.email("ana@example.com") != one.email("bo@example.com")
    assert one.email("ana@example.com") != other.email("ana@example.com")


def test_emails_inside_text_and_records_are_replaced() -> None:
    pseudo = Pseudonymizer(KEY)
    label = pseudo.text("Unknown user (ana@example.com) and bo@example.com")
    assert "@" not in label and label.startswith("Unknown user (person-")
    record = {
        "changed_by": "ana@example.com",
        "sheet_name": "Crew 12",
        "risk_factors": [{"label": "Unknown user (ana@example.com)", "weight": 0.4}],
    }
    out = pseudo.record(record, ["changed_by", "risk_factors.label"])
    assert out["changed_by"] == pseudo.email("ana@example.com")
    assert out["risk_factors"][0]["label"] == f"Unknown user ({pseudo.email('ana@example.com')})"
    assert out["sheet_name"] == "Crew 12" and record["changed_by"] == "ana@example.com"
    assert pseudo.maybe(None) is None


def test_short_keys_are_refused_and_never_shown() -> None:
    with pytest.raises(ValueError):
        Pseudonymizer(b"short")
    assert "k" * 16 not in repr(Pseudonymizer(KEY))
