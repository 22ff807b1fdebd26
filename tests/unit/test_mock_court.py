"""The mock court's fault rule, what it reads from a business response and answers with, its password setting."""

from __future__ import annotations

import pytest
from lxml import etree

from hub import ns
from hub.contract import Dsp917, dsp917_sample, validate_dsp917
from hub.settings import SettingError
from mocks.court import business
from mocks.court.faults import Faults, roll, verdict
from mocks.court.settings import CourtSettings, Credentials
from mocks.soap import NOTHING


def sample(name: str) -> etree._Element:
    return etree.fromstring(dsp917_sample(name))


def test_no_faults_let_every_call_through_at_once():
    assert all(verdict(Faults(), call, seed=1) == (NOTHING, False) for call in range(1, 50))


def test_down_answers_503_unavailable_and_leaves_fail_next_for_later():
    injected, takes_one = verdict(Faults(down=True, fail_next=2, latency_ms=250), 7, seed=1)
    assert injected.status.startswith("503") and injected.error.code == "Server.Unavailable"
    assert injected.retry_after == 5 and injected.delay_seconds == 0.25 and not takes_one


def test_fail_next_answers_500_and_uses_one_up():
    injected, takes_one = verdict(Faults(fail_next=1), 1, seed=1)
    assert injected.status.startswith("500") and injected.error.code == "Server.InjectedFailure" and takes_one


def test_the_error_rate_follows_the_seeded_dice_the_same_in_every_process():
    plan = Faults(error_rate=0.3)
    failed = [call for call in range(1, 1001) if verdict(plan, call, seed=4)[0].error is not None]
    assert failed == [call for call in range(1, 1001) if roll(4, call) < 0.3]
    assert 230 < len(failed) < 370  # about 30 %
    assert failed != [call for call in range(1, 1001) if verdict(plan, call, seed=5)[0].error is not None]
    assert all(verdict(Faults(error_rate=1.0), call, seed=1)[0].error for call in range(1, 20))


def test_latency_alone_holds_the_call_and_lets_it_through():
    injected, _ = verdict(Faults(latency_ms=40), 1, seed=1)
    assert injected.delay_seconds == 0.04 and injected.error is None


@pytest.mark.parametrize("bad", [{"latency_ms": -1}, {"fail_next": -2}, {"error_rate": 1.5}, {"error_rate": -0.1}])
def test_a_fault_plan_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        Faults(**bad)


def test_the_business_response_sample_gives_its_ids_order_and_fcn():
    got = business.read(sample("DSP917_Business_Response.xml"))
    assert (got.document_id, got.correlation_id, got.isb_transaction_id, got.court_cd) == (
        "DSP917",
        "764560",
        "-1",
        "12",
    )
    assert (got.order_id, got.control_number, got.order_type) == ("120000005919", "555555555", "TRO")
    assert got.timestamp == "2011-01-12T18:29:44.818-08:00" and not got.is_error


def test_the_error_sample_gives_its_code_and_text_and_no_document_id():
    got = business.read(sample("DSP917_Error_Business_Response.xml"))
    assert got.is_error and got.document_id is None and got.order_id is None
    assert got.errors == (
        business.ErrorInformation(
            "450000", "Transaction cannot be processed, because the look-up information was not found/mismatch."
        ),
    )
    assert (got.correlation_id, got.isb_transaction_id) == ("130000217092", "1002968903")


def test_every_error_of_an_error_response_is_read():
    message = sample("DSP917_Error_Business_Response.xml")
    info = message.find(f".//{{{ns.DSP917_RESP}}}ErrorInformation")
    second = etree.fromstring(etree.tostring(info))
    second.find(f"{{{ns.DSP917_RESP}}}ErrorInformationMessageCode").text = "450001"
    info.addnext(second)
    assert validate_dsp917(message, Dsp917.RESP_INPUT) == []
    assert [e.code for e in business.read(message).errors] == ["450000", "450001"]


@pytest.mark.parametrize("name", ["DSP917_Business_Response.xml", "DSP917_Error_Business_Response.xml"])
def test_the_receipt_is_valid_by_the_official_schema_and_echoes_the_header(name):
    response = business.read(sample(name))
    out = business.receipt(response, "received as entry 1")
    assert validate_dsp917(out, Dsp917.RESP_OUTPUT) == []
    common = out.find(f"{{{ns.ISB_RESPONSE}}}ISBCommonResponseMessage")
    echoed = {etree.QName(e).localname: e.text for e in common}
    assert echoed["Status"] == "Success" and echoed["Message"] == "received as entry 1"
    assert echoed["CorrelationId"] == response.correlation_id and echoed["TimeStamp"] == response.timestamp
    assert echoed["ISBTransactionId"] == response.isb_transaction_id
    assert echoed.get("DocumentId") == response.document_id


def test_the_court_serves_only_with_a_password_and_never_shows_it(monkeypatch):
    monkeypatch.delenv("CCPOR_COURT_PASSWORD", raising=False)
    with pytest.raises(SettingError, match="CCPOR_COURT_PASSWORD: expected the password the hub sends"):
        CourtSettings().credentials()
    monkeypatch.setenv("CCPOR_COURT_PASSWORD", "s3cret")
    monkeypatch.setenv("CCPOR_COURT_USERNAME", "hub-of-imperial")
    settings = CourtSettings()
    assert settings.credentials() == Credentials("hub-of-imperial", "s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in repr(settings.credentials())
