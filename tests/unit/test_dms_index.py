"""adapters.dms: the two index layouts read alike; the watcher takes a folder only once it is
complete; an index record maps to an order or, lacking ACTIVE fields, to a quick attach; every
failure of a hub call is sorted into retry-later or refused-for-good."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import zeep.exceptions
from lxml import etree

from adapters.dms import sample
from adapters.dms.adapter import DmsSection, Watcher
from adapters.dms.index import IndexError_, read
from adapters.framework import orderfields
from adapters.framework.hubclient import Permanent, Transient, classify


def _both(tmp_path: Path, documents: list) -> list[list]:
    kofax = sample.kofax_batch(tmp_path / "k", documents)
    dip = sample.dip_batch(tmp_path / "d", documents)
    return [
        read("kofax-xml", kofax / "index.xml", "cp1252", 10**6),
        read("onbase-dip", dip / "index.txt", "cp1252", 10**6),
    ]


def test_kofax_xml_and_onbase_dip_give_the_same_documents(tmp_path: Path) -> None:
    documents = [
        (sample.record("26FL1", "MUÑOZ"), "0001.tif", None),
        (sample.record("26FL2", Brady=""), "0002.pdf", None),
    ]
    kofax, dip = _both(tmp_path, documents)
    assert [(d.position, d.image, d.fields) for d in kofax] == [(d.position, d.image, d.fields) for d in dip]
    assert kofax[0].fields["RestrainedLastName"] == "MUÑOZ" and kofax[0].fields["FormNumber"] == "DV-130"
    assert "Brady" not in kofax[1].fields


def test_a_windows_path_to_the_image_gives_its_file_name_and_nothing_climbs_out(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "index.txt").write_bytes(
        b"BEGIN:\r\nCaseNumber: 1\r\n>>FileName: \\\\SCAN01\\X\\..\\0001.pdf\r\nEND:\r\n"
    )
    (doc,) = read("onbase-dip", folder / "index.txt", "cp1252", 10**6)
    assert doc.image == "0001.pdf"
    (folder / "index.txt").write_bytes(b"BEGIN:\r\nCaseNumber: 1\r\n>>FileName: C:\\scans\\..\r\nEND:\r\n")
    with pytest.raises(IndexError_, match="is not a file name"):
        read("onbase-dip", folder / "index.txt", "cp1252", 10**6)


@pytest.mark.parametrize(
    "text, says",
    [
        (b"CaseNumber: 1\r\n", "line 1: 'CaseNumber' outside a BEGIN:/END: record"),
        (b"BEGIN:\r\nCaseNumber: 1\r\n", "line 1: the record has no END:"),
        (b"BEGIN:\r\nBEGIN:\r\n", "line 2: BEGIN: inside the record begun on line 1"),
        (b"BEGIN:\r\nCaseNumber 1\r\nEND:\r\n", "line 2: expected 'Keyword: value'"),
        (b"BEGIN:\r\n>>FileName: a\x00b.pdf\r\nEND:\r\n", "is not a file name"),
        (
            b"BEGIN:\r\n>>FileName: 1.pdf\r\nEND:\r\nBEGIN:\r\n>>FileName: X\\1.pdf\r\nEND:\r\n",
            "named by document 1 too",
        ),
        (b"BEGIN:\r\nCaseNumber: 1\r\nEND:\r\n", "no >>FileName: line"),
        (b"BEGIN:\r\nCaseNumber: 1\r\nCaseNumber: 2\r\n", "line 3: keyword CaseNumber given twice"),
        (b"", "no document in the index"),
    ],
)
def test_a_bad_dip_index_names_its_line(tmp_path: Path, text: bytes, says: str) -> None:
    (tmp_path / "index.txt").write_bytes(text)
    with pytest.raises(IndexError_) as err:
        read("onbase-dip", tmp_path / "index.txt", "cp1252", 10**6)
    assert says in str(err.value)


def test_an_oversize_or_utf16_doctype_index_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    (tmp_path / "index.xml").write_bytes(b"<ImportSession>" + b" " * 2000 + b"</ImportSession>")
    with pytest.raises(IndexError_, match="2031 bytes; an index file may have at most 1000"):
        read("kofax-xml", tmp_path / "index.xml", "cp1252", 1000)
    hostile = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "x">]><ImportSession>&a;</ImportSession>'
    (tmp_path / "index.xml").write_bytes(hostile.encode("utf-16"))
    with pytest.raises(IndexError_, match="DOCTYPE or ENTITY"):
        read("kofax-xml", tmp_path / "index.xml", "cp1252", 10**6)


def _section(tmp_path: Path, **more: object) -> DmsSection:
    return DmsSection(inbox=tmp_path / "inbox", court_ori="CA019015J", **more)  # type: ignore[arg-type]


def test_without_a_trigger_a_folder_is_taken_only_after_nothing_changed_for_stable_seconds(tmp_path: Path) -> None:
    now = [100.0]
    watcher = Watcher(_section(tmp_path, stable_seconds=30.0), clock=lambda: now[0])
    folder = tmp_path / "inbox" / "B1"
    folder.mkdir(parents=True)
    (folder / "0001.pdf").write_bytes(b"%PDF-1.4 part")  # the image still being copied, no index yet
    assert watcher.complete() == []
    (folder / "index.xml").write_bytes(b"<ImportSession/>")
    assert watcher.complete() == []  # first seen
    now[0] += 29
    assert watcher.complete() == []
    with open(folder / "0001.pdf", "ab") as more:  # still growing: the clock starts again
        more.write(b" more")
    now[0] += 2
    assert watcher.complete() == []
    now[0] += 29.9
    assert watcher.complete() == []
    now[0] += 0.2
    assert watcher.complete() == [folder]


def test_with_a_trigger_file_a_folder_is_taken_when_the_trigger_appears(tmp_path: Path) -> None:
    watcher = Watcher(_section(tmp_path, trigger_file="READY"), clock=lambda: 0.0)
    folder = sample.kofax_batch(tmp_path / "inbox" / "B1", [(sample.record("1"), "1.pdf", b"%PDF-")], trigger=None)
    assert watcher.complete() == []
    (folder / "READY").write_bytes(b"")
    assert watcher.complete() == [folder]


def test_a_complete_record_maps_to_an_order_and_an_incomplete_one_to_a_quick_attach(tmp_path: Path) -> None:
    (kofax, _) = _both(tmp_path, [(sample.record("26FL1", "MOUSE", IssueDate="2026-11-20"), "1.pdf", None)])
    mapped = orderfields.map_document(kofax[0].fields, "CA019015J", "LA-DMS", "D1")
    assert mapped.order is not None and mapped.missing == ()
    order = mapped.order
    assert order["CourtOrderIssuingCourt"] == {"OrganizationORIIdentification": "CA019015J"}
    assert str(order["CourtOrderIssuingDate"]) == "2026-11-20" and order["SourceMessageID"] == "D1"
    assert order["ProtectionOrderCondition"] == {
        "ProtectionOrderConditionCode": ["01", "04", "05"],
        "StayAwayDistanceMeasure": 100,
    }
    assert list(order)[:4] == [
        "CourtOrderFormCode",
        "ProtectionOrderTypeCode",
        "CourtOrderIssuingCourt",
        "CaseDocketID",
    ]
    (short, _) = _both(tmp_path / "2", [(sample.record("26FL2", "MOUSE", Brady="", RestrainedDOB=""), "1.pdf", None)])
    quick = orderfields.map_document(short[0].fields, "CA019015J", "LA-DMS", "D2")
    assert quick.order is None and quick.missing == ("RestrainedDOB", "Brady") and quick.surname == "MOUSE"


def _fault(code: str) -> zeep.exceptions.Fault:
    detail = etree.fromstring(
        '<FaultDetail xmlns="urn:ca:courts:ccpor:orders:1"><Code>x</Code>'
        "<Violation><Path>/a/b</Path><Message>bad b</Message></Violation></FaultDetail>"
    )
    return zeep.exceptions.Fault("refused", code=f"soap:{code}", detail=detail)


@pytest.mark.parametrize(
    "error, kind, text",
    [
        (_fault("Client.ValidationError"), Permanent, "Client.ValidationError: refused\n  /a/b: bad b\n"),
        (_fault("Client.Forbidden"), Permanent, "Client.Forbidden"),
        (_fault("Client.Conflict"), Transient, "Client.Conflict"),
        (_fault("Client.Authentication"), Transient, "Client.Authentication"),
        (_fault("Server.Internal"), Transient, "Server.Internal"),
        (zeep.exceptions.TransportError(status_code=503), Transient, "HTTP 503"),
        (zeep.exceptions.TransportError(status_code=429), Transient, "HTTP 429"),
        (zeep.exceptions.TransportError(status_code=413), Permanent, "HTTP.413"),
        (zeep.exceptions.TransportError(status_code=408), Transient, "HTTP 408"),
        (zeep.exceptions.TransportError(status_code=200), Transient, "HTTP 200"),  # a proxy's page
        (zeep.exceptions.XMLParseError("no XML"), Transient, "XMLParseError"),
        (RuntimeError("nobody foresaw this"), Transient, "RuntimeError"),
        (requests.exceptions.ConnectionError("refused"), Transient, "ConnectionError"),
        (requests.exceptions.ReadTimeout("slow"), Transient, "ReadTimeout"),
    ],
)
def test_every_failure_is_retry_later_or_refused_for_good(error: Exception, kind: type, text: str) -> None:
    sorted_ = classify(error)
    assert isinstance(sorted_, kind)
    assert text in (sorted_.report() if isinstance(sorted_, Permanent) else str(sorted_))


@pytest.mark.parametrize(
    "more, says",
    [
        ({"layout": "capture-one"}, "layout: must be one of kofax-xml, onbase-dip"),
        ({"encoding": "klingon"}, "encoding: 'klingon' is not an encoding"),
        ({"stable_seconds": 0.0}, "stable_seconds: must be more than 0"),
        ({"trigger_file": "../READY"}, "must be a file name inside the batch folder"),
        ({"court_ori": "LA"}, "court_ori: must be the court's 9-character ORI"),
    ],
)
def test_a_wrong_dms_setting_names_its_key(tmp_path: Path, more: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        DmsSection(**({"inbox": tmp_path, "court_ori": "CA019015J"} | more))  # type: ignore[arg-type]


def test_the_documented_example_configuration_and_batches_are_what_the_adapter_reads() -> None:
    from adapters.dms.adapter import load

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples" / "dms"
    hub, dms = load(examples / "dms.toml")
    assert hub.auth == "digest" and dms.layout == "kofax-xml" and dms.trigger_file == "READY"
    kofax = read("kofax-xml", examples / "LA-20261206-001" / "index.xml", "cp1252", 10**6)
    dip = read("onbase-dip", examples / "LA-20261206-001-dip" / "index.txt", "cp1252", 10**6)
    assert [(d.image, d.fields) for d in kofax] == [(d.image, d.fields) for d in dip]
    for document in kofax:
        mapped = orderfields.map_document(document.fields, dms.court_ori, dms.source_system, "D1", dms.ignore_fields)
        assert (mapped.order is None) == (document.position == 2)  # the second lacks race and conditions


def test_a_single_look_takes_only_what_has_not_changed_for_stable_seconds_by_its_age(tmp_path: Path) -> None:
    import os
    import time

    folder = sample.kofax_batch(tmp_path / "inbox" / "B1", [(sample.record("1"), "1.pdf", b"%PDF-")], trigger=None)
    once = Watcher(_section(tmp_path, stable_seconds=30.0), once=True)
    assert once.complete() == []  # written just now: maybe still being written
    old = time.time() - 31
    for f in folder.iterdir():
        os.utime(f, (old, old))
    assert once.complete() == [folder]
    assert Watcher(_section(tmp_path, stable_seconds=30.0)).complete() == []  # the service still looks twice


def test_a_kofax_index_in_windows_1252_is_read_by_its_declaration(tmp_path: Path) -> None:
    text = (
        '<?xml version="1.0" encoding="windows-1252"?><ImportSession><Batches><Batch><Documents><Document>'
        '<IndexFields><IndexField Name="CaseNumber" Value="26FL1"/>'
        '<IndexField Name="RestrainedLastName" Value="MUÑOZ"/></IndexFields>'
        '<Pages><Page ImportFileName="1.tif"/></Pages></Document></Documents></Batch></Batches></ImportSession>'
    )
    (tmp_path / "index.xml").write_bytes(text.encode("cp1252"))
    (doc,) = read("kofax-xml", tmp_path / "index.xml", "utf-8", 10**6)
    assert doc.fields["RestrainedLastName"] == "MUÑOZ"


def test_the_sample_scans_are_what_capture_stations_write() -> None:
    """A multi-page 300 dpi TIFF an image library reads page by page, and a PDF: the real inputs."""
    import io

    from PIL import Image

    scan = Image.open(io.BytesIO(sample.tiff(pages=3, width=2550, height=3300)))
    assert (scan.size, scan.n_frames, scan.info["dpi"]) == ((2550, 3300), 3, (300.0, 300.0))
    assert sample.pdf("x").startswith(b"%PDF-") and sample.pdf("x").rstrip().endswith(b"%%EOF")


def test_clear_http_is_only_for_a_hub_on_this_machine_and_never_through_a_proxy_or_a_redirect(
    tmp_path: Path, monkeypatch
) -> None:
    from adapters.framework.hubclient import HubClient, HubSection

    with pytest.raises(ValueError, match="http:// only for a hub on this machine"):
        HubSection(url="http://ccpor-hub.courts.ca.example", username="u", password_file=tmp_path / "p")
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    local = HubClient(HubSection(url="http://127.0.0.1:8000", username="u", password_file=tmp_path / "p"))
    assert local.session.trust_env is False and not local.session.proxies  # the proxy is not asked
    assert local.session.max_redirects == 0  # a redirect would resend the request elsewhere
    local.close()
