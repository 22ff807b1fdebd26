"""The user guide's search rules, and the index-friendly conditions they become."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.dialects import sqlite

from hub.db.models import OrderParty
from hub.orders.search import Pattern

NAMES = ["MOUSE", "MAJORS", "CLEESE", "GEESE", "MOOSE", "M__SE", "SMITH", "SMYTHE", "M*SE", "M?SE"]


def matches(pattern: str) -> set[str]:
    """Evaluate the rule in Python, independently of SQL, to pin its meaning."""
    p = Pattern.of(pattern)
    if not p.wildcard:
        return {n for n in NAMES if n == p.text}
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in p.text)
    return {n for n in NAMES if re.fullmatch(regex, n)}


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("M%", {"MOUSE", "MAJORS", "MOOSE", "M__SE", "M*SE", "M?SE"}),
        ("%SE", {"MOUSE", "CLEESE", "GEESE", "MOOSE", "M__SE", "M*SE", "M?SE"}),
        ("M__SE", {"M__SE"}),
        ("M__SE%", {"MOUSE", "MOOSE", "M__SE"}),
        ("m%", {"MOUSE", "MAJORS", "MOOSE", "M__SE", "M*SE", "M?SE"}),
        ("M*SE", {"M*SE"}),
        ("M?SE", {"M?SE"}),
        ("SM_TH%", {"SMITH", "SMYTHE"}),
    ],
)
def test_guide_examples(pattern: str, expected: set[str]):
    assert matches(pattern) == expected


def test_head_and_tail():
    assert (Pattern.of("MO%").head, Pattern.of("%SE").tail) == ("MO", "SE")
    assert (Pattern.of("M__SE%").head, Pattern.of("%_SE").tail) == ("M", "SE")
    assert Pattern.of("  smith  ").text == "SMITH"


def _sql(condition) -> str:
    return str(condition.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def test_conditions_use_ranges_the_index_can_drive():
    assert _sql(Pattern.of("SMI%").condition(OrderParty.surname_key, OrderParty.surname_rkey)) == (
        "order_parties.surname_key >= 'SMI' AND order_parties.surname_key < 'SMJ' "
        "AND order_parties.surname_key LIKE 'SMI%' ESCAPE '\\'"
    )
    suffix = _sql(Pattern.of("%ESE").condition(OrderParty.surname_key, OrderParty.surname_rkey))
    assert "surname_rkey >= 'ESE' AND order_parties.surname_rkey < 'ESF'" in suffix
    assert _sql(Pattern.of("M__SE").condition(OrderParty.surname_key)) == "order_parties.surname_key = 'M__SE'"
