"""``/metrics`` on the running hub (gunicorn, 2 workers): scraped and parsed with prometheus_client's
text parser, the counters moved by exactly what was done -- whichever worker answered each call and
each scrape -- and the queues' figures come from the database. Who may scrape is checked in
process: loopback, or the bearer token whose SHA-256 is configured."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from zeep.exceptions import Fault

from hub import masterkey
from hub.api.probes import Metrics
from hub.settings import Settings
from tests.conftest import PASSWORD
from tests.support.orders import order, tiny_pdf
from tests.support.xsdfuzz import call

pytestmark = pytest.mark.functional


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = requests.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def delta(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_the_counters_move_by_exactly_what_was_done(hub):
    url = hub.server.url
    before = scrape(url)
    clerk = hub.client("clerk")
    for _ in range(5):  # five calls, spread over the two workers by the kernel
        receipt = clerk.service.SubmitOrder(Order=order())
    with pytest.raises(Fault):
        clerk.service.SubmitOrder(Order=order(CourtOrderExpirationDate=date(2001, 1, 1)))  # before its issue
    with pytest.raises(Fault):
        hub.client("sealed-reader", "not the password").service.GetOrder(OrderId=receipt.OrderId)
    hub.client("sealed-reader", PASSWORD).service.GetOrder(OrderId=receipt.OrderId)  # resets its failed logons
    pdf = tiny_pdf("metrics")
    image = clerk.service.AttachImage(OrderId=receipt.OrderId, Document={"Base64BinaryObject": pdf})
    clerk.service.GetImage(ImageId=image.ImageId)
    after = scrape(url)
    calls = "ccpor_soap_calls_total"
    assert delta(before, after, calls, service="orders", operation="SubmitOrder", outcome="OK") == 5
    faults = {k[1]: v for k, v in after.items() if k[0] == calls}
    assert (
        sum(delta(before, after, calls, **dict(labels)) for labels in faults if dict(labels).get("outcome") != "OK")
        == 2
    )  # the invalid order and the wrong password, each with its fault code
    assert delta(before, after, calls, service="orders", operation="GetOrder", outcome="Client.Authentication") == 1
    assert delta(before, after, "ccpor_logon_failures_total") == 1
    assert delta(before, after, "ccpor_image_bytes_total", direction="in") == len(pdf)
    assert delta(before, after, "ccpor_image_bytes_total", direction="out") == len(pdf)
    assert (
        delta(before, after, "ccpor_soap_call_duration_seconds_count", service="orders", operation="SubmitOrder") == 6
    )
    assert ("ccpor_outbox_oldest_waiting_seconds", ()) not in after  # a gauge per kind, none without messages


def test_only_loopback_or_the_token_may_scrape(tmp_path: Path, db):
    masterkey.create(tmp_path / "master.key")
    open_ = Metrics(db, Settings(data_dir=tmp_path, database_url=db.url), lambda: None)
    assert call(open_, "/metrics", b"", REQUEST_METHOD="GET").status == "200 OK"
    assert call(open_, "/metrics", b"", REQUEST_METHOD="GET", REMOTE_ADDR="10.1.2.3").status == "403 Forbidden"
    token = "a scraper's long random token"  # noqa: S105 - test value
    guarded = Metrics(
        db,
        Settings(
            data_dir=tmp_path, database_url=db.url, metrics_token_sha256=hashlib.sha256(token.encode()).hexdigest()
        ),
        lambda: None,
    )
    remote = {"REQUEST_METHOD": "GET", "REMOTE_ADDR": "10.1.2.3"}
    assert call(guarded, "/metrics", b"", **remote, HTTP_AUTHORIZATION=f"Bearer {token}").status == "200 OK"
    assert call(guarded, "/metrics", b"", **remote, HTTP_AUTHORIZATION="Bearer guess").status == "403 Forbidden"
    assert call(guarded, "/metrics", b"", REQUEST_METHOD="GET").status == "403 Forbidden"  # the token, even on loopback
