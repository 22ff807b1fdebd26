"""The official DSP917 files as shipped in xsd/dsp917/: unmodified, and what the hub reads from them."""

from __future__ import annotations

import copy
import hashlib

import pytest
from lxml import etree

from hub import ns
from hub.contract import Dsp917, dsp917_binding, dsp917_dir, dsp917_sample, validate_dsp917


def test_every_official_file_is_as_copied_from_the_specification():
    sums = (dsp917_dir() / "SHA256SUMS").read_text().splitlines()
    assert len(sums) >= 30
    for line in sums:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((dsp917_dir() / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ("DSP917_Request.xml", Dsp917.REQ_INPUT),
        ("DSP917_Business_Response.xml", Dsp917.RESP_INPUT),
        ("DSP917_Error_Business_Response.xml", Dsp917.RESP_INPUT),
    ],
)
def test_the_official_samples_validate_against_the_official_schemas(sample, message):
    assert validate_dsp917(etree.fromstring(dsp917_sample(sample)), message) == []


def test_a_violation_names_the_element_with_the_specifications_prefixes():
    request = etree.fromstring(dsp917_sample("DSP917_Request.xml"))
    (code,) = request.iter("CourtCd")
    code.addnext(copy.deepcopy(code))
    found = validate_dsp917(request, Dsp917.REQ_INPUT)
    assert found
    assert "tnshdr:ISBCommonServiceHeader" in found[0].path
    assert "CourtCd" in found[0].message


def test_another_root_is_refused_by_name_not_by_the_schema():
    (v,) = validate_dsp917(etree.fromstring(dsp917_sample("DSP917_Request.xml")), Dsp917.RESP_INPUT)
    assert "expected DSP917CAJUDRespInput" in v.message


def test_the_bindings_are_read_from_the_concrete_wsdls():
    req, resp = dsp917_binding("DSP917CAJUDReq"), dsp917_binding("DSP917CAJUDResp")
    assert req.operations == resp.operations == ("Notify",)
    assert req.soap_action == "/portal/isb/Schema/DSP917CAJUDReq/1.0.0"
    assert resp.soap_action == "/portal/cajud/Schema/DSP917CAJUDResp/1.0.0"
    assert resp.path == "/portal/cajud/Schema/DSP917CAJUDResp/1.0.0"
    assert Dsp917.REQ_INPUT.tag == ns.q(ns.DSP917_REQ_INPUT, "DSP917CAJUDReqInput")
    with pytest.raises(ValueError, match="no DSP917 service"):
        dsp917_binding("DSP918")
