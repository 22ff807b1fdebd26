"""The mock court's store on both databases: what the database itself enforces when workers race
(one first delivery per DocumentId, fail-next used up exactly, a nonce taken once)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from hub.contract import dsp917_sample
from mocks.court import business
from mocks.court.faults import Faults
from mocks.court.store import Caller, CourtStore, NoCourtDatabase, PasswordType
from tests.conftest import empty_database

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
HUB = Caller("ccpor-hub", PasswordType.DIGEST, over_tls=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CourtStore]:
    with empty_database(request.param, tmp_path) as url:
        opened = CourtStore.create(url)
        try:
            yield opened
        finally:
            opened.close()


def response() -> business.BusinessResponse:
    return business.read(etree.fromstring(dsp917_sample("DSP917_Business_Response.xml")))


def test_twins_taken_at_once_make_one_first_delivery(store):
    with ThreadPoolExecutor(8) as pool:
        rows = list(pool.map(lambda _: store.receive(response(), HUB, "<x/>", NOW), range(8)))
    assert sorted(r.duplicate for r in rows) == [False] + [True] * 7
    assert [r.id for r in store.received()] == sorted(r.id for r in rows)
    assert store.received()[0].password_type is PasswordType.DIGEST and store.received()[0].over_tls


def test_responses_without_a_document_id_are_never_duplicates(store):
    errors = business.read(etree.fromstring(dsp917_sample("DSP917_Error_Business_Response.xml")))
    assert [store.receive(errors, HUB, "<x/>", NOW).duplicate for _ in range(2)] == [False, False]
    assert store.received()[0].errors[0].code == "450000"


def test_fail_next_is_used_up_exactly_by_racing_calls(store):
    store.set_faults(fail_next=5, latency_ms=1)
    with ThreadPoolExecutor(6) as pool:
        verdicts = list(pool.map(lambda _: store.admit(seed=1), range(20)))
    assert sum(v.error is not None for v in verdicts) == 5
    assert store.faults() == Faults(latency_ms=1) and store.clear_faults() == Faults()


def test_set_faults_changes_only_what_it_names_and_refuses_a_bad_value(store):
    store.set_faults(down=True, error_rate=0.5)
    assert store.set_faults(latency_ms=20) == Faults(down=True, latency_ms=20, error_rate=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        store.set_faults(error_rate=3.0)
    assert store.faults() == Faults(down=True, latency_ms=20, error_rate=0.5)


def test_a_nonce_is_taken_once_within_its_window(store):
    window = timedelta(minutes=12)
    assert store.remember_once(b"ccpor-hub\0nonce-1", NOW, window)
    assert not store.remember_once(b"ccpor-hub\0nonce-1", NOW + timedelta(minutes=1), window)
    assert store.remember_once(b"ccpor-hub\0nonce-1", NOW + window + timedelta(minutes=1), window)  # forgotten


def test_a_court_that_never_ran_has_no_store_and_none_is_made(tmp_path):
    with pytest.raises(NoCourtDatabase, match="no database yet"):
        CourtStore.existing(f"sqlite:///{tmp_path / 'never' / 'court.db'}")
    assert not (tmp_path / "never").exists()
