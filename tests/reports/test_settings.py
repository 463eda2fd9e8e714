"""The risk tag names read from CONTRACTGQL_RISK_TAGS."""

from __future__ import annotations

import pytest

from contractgql.config import load_settings


def test_risk_tags_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTRACTGQL_RISK_TAGS", raising=False)
    assert load_settings().risk_tags == ("cancellation risk",)


def test_risk_tags_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_RISK_TAGS", " Churn risk ,, Opzegrisico ")
    assert load_settings().risk_tags == ("Churn risk", "Opzegrisico")


def test_risk_tags_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_RISK_TAGS", "")
    assert load_settings().risk_tags == ()
