"""The court sender's transport against courts (or whatever stands in front of them) that answer
badly: every answer is a receipt, a refusal or a failure of that one message -- never an exception
that would stall the batch -- and a redirect is not followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.court import MAX_REPLY_BYTES, CourtTransport

ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/empty-body": (
        200,
        {"Content-Type": "text/xml"},
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>',
    ),
    "/multipart": (200, {"Content-Type": 'multipart/related; boundary="b"'}, b"--b\r\n\r\nnot xml\r\n--b--"),
    "/not-xml": (200, {"Content-Type": "text/xml"}, b"<html>hello</html"),
    "/huge": (200, {"Content-Type": "text/xml"}, b"<x>" + b"A" * (MAX_REPLY_BYTES + 10) + b"</x>"),
    "/redirect": (307, {"Location": "/elsewhere"}, b""),
    "/down": (503, {"Content-Type": "text/plain"}, b"maintenance"),
    "/client-fault": (
        500,
        {"Content-Type": "text/xml"},
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault>'
        b"<faultcode>e:Client.Authentication</faultcode><faultstring>who are you</faultstring>"
        b"</e:Fault></e:Body></e:Envelope>",
    ),
}
SEEN: list[str] = []
LEFT = threading.Event()  # never set: the trickle's pace


class _Court(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        SEEN.append(self.path)
        if self.path == "/trickle":  # a receipt-sized answer, a byte at a time until the client leaves
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", "400")
            self.end_headers()
            try:
                for _ in range(400):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    LEFT.wait(0.2)
            except OSError:
                pass
            return
        status, headers, body = ANSWERS.get(self.path, (404, {}, b""))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def court() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Court)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "status", "why"),
    [
        ("/empty-body", "FAILED", "unreadable answer"),
        ("/multipart", "FAILED", "unreadable answer"),
        ("/not-xml", "FAILED", "unreadable answer"),
        ("/huge", "FAILED", "over"),
        ("/redirect", "FAILED", "redirects are not followed"),
        ("/down", "FAILED", "HTTP 503"),
        ("/client-fault", "REFUSED", "Client.Authentication"),
    ],
)
def test_every_answer_is_one_messages_outcome(court, path, status, why):
    transport = CourtTransport(timeout=5)
    try:
        receipt = transport.post(f"{court}{path}", b"<envelope/>")
    finally:
        transport.close()
    assert receipt.status == status and why in (receipt.reason or "")
    assert "/elsewhere" not in SEEN


def test_a_court_that_is_not_there_is_a_failure_not_an_exception():
    transport = CourtTransport(timeout=2)
    try:
        receipt = transport.post("http://127.0.0.1:1/portal", b"<envelope/>")
    finally:
        transport.close()
    assert receipt.failed and "ConnectionError" in (receipt.reason or "")


def test_a_court_that_trickles_its_answer_is_cut_off_at_the_deadline(court):
    transport = CourtTransport(timeout=1, deadline=1.5)  # each byte comes well within the timeout
    try:
        receipt = transport.post(f"{court}/trickle", b"<envelope/>")
    finally:
        transport.close()
    assert receipt.failed and "no whole answer within 1.5 s" in (receipt.reason or "")


class _Stub:
    """Courts by address: ``hold`` answers only once released (or never)."""

    deadline, timeout = 0.5, 0.0

    def __init__(self) -> None:
        self.released = threading.Event()
        self.b_called = threading.Event()
        self.calls: list[str] = []

    def post(self, address: str, envelope: bytes):  # type: ignore[no-untyped-def]
        from gateway.transport import SubmitReceipt

        self.calls.append(address)
        if address == "https://a.example":
            return SubmitReceipt(1, None, "QUEUED" if self.b_called.wait(10) else "FAILED", None)
        if address == "https://hold.example":
            self.released.wait(30)
        self.b_called.set()
        return SubmitReceipt(1, None, "QUEUED")


def _sender(stub: _Stub):  # type: ignore[no-untyped-def]
    from gateway.court import Courts, CourtSender

    sender = CourtSender.__new__(CourtSender)  # only its submit stage: no database
    sender.transport, sender.courts = stub, Courts()
    return sender


def _batch(*addresses: str):  # type: ignore[no-untyped-def]
    from gateway.sender import Built
    from hub.outbox.manager import Claim

    return [
        Built(Claim(i, f"M{i}", "RSP", 1, "QUEUED", "CA013013J", kind="DSP917"), sealed=b"x", address=address)
        for i, address in enumerate(addresses, start=1)
    ]


def test_a_court_that_holds_on_does_not_hold_up_another_court():
    """Court A answers only once court B has been called: the sender must call them side by side."""
    sender = _sender(_Stub())
    try:
        submitted = sender.submit(_batch("https://a.example", "https://a.example", "https://b.example"))
    finally:
        sender.close()
    assert [r.status for r in submitted.receipts] == ["QUEUED", "QUEUED", "QUEUED"]
    assert [r.position for r in submitted.receipts] == [1, 2, 3]


def test_a_court_that_does_not_answer_in_time_fails_its_messages_and_ties_up_one_thread_only():
    stub = _Stub()
    sender = _sender(stub)
    try:
        first = sender.submit(_batch("https://hold.example", "https://hold.example", "https://b.example"))
        # The call in flight is an attempt that failed; the message after it was never sent.
        assert [r.status for r in first.receipts] == ["FAILED", "UNTRIED", "QUEUED"]
        assert "not answered within the batch's 0.5 s" in (first.receipts[0].reason or "")
        # Still on its thread: the court is not called again (no second thread for it, no pile-up),
        # and its message waits without spending an attempt.
        second = sender.submit(_batch("https://hold.example", "https://b.example"))
        assert [r.status for r in second.receipts] == ["UNTRIED", "QUEUED"]
        assert "has not answered an earlier call" in (second.receipts[0].reason or "")
        assert stub.calls.count("https://hold.example") == 1
        held = sender.courts.running("https://hold.example")
        assert held is not None
        stub.released.set()
        held.result(timeout=30)
        assert sender.courts.running("https://hold.example") is None
        third = sender.submit(_batch("https://hold.example"))
        assert [r.status for r in third.receipts] == ["QUEUED"]
    finally:
        stub.released.set()
        sender.close()


def test_the_court_sender_s_lease_outlasts_its_longest_batch(tmp_path):
    """Calls start within the deadline (2 x the timeout) and each ends by its own deadline and one
    read: ~5 x the timeout. A lease shorter than that would let a second gateway claim and send the
    same responses while the first is still on them."""
    from gateway.scheduler import build_court_sender
    from hub import masterkey
    from hub.db.engine import Database
    from hub.settings import Settings

    masterkey.create(tmp_path / "master.key")
    settings = Settings(data_dir=tmp_path, gateway_timeout_seconds=30.0, gateway_lease_seconds=60)
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    sender = build_court_sender(settings, db)
    try:
        assert sender.outbox.lease >= 5 * 30
        assert sender.outbox.lease >= sender.transport.deadline * 2 + sender.transport.timeout
    finally:
        sender.close()
        db.dispose()
