"""The web console's rules (docs/SECURITY.md, "The web console"), through the whole WSGI application
in-process with Werkzeug's test client, so the transport (peer address, forwarded header, Origin,
Sec-Fetch-Site) can be set exactly: who may sign in, the lockout shared with SOAP, the cookie's flags,
CSRF and cross-site refusals, the 30-minute idle lock, audit of every page. The browser test
(tests/functional/test_console_browser.py) walks the same pages in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from werkzeug.test import Client, TestResponse

from hub import masterkey
from hub.accounts.service import LOCKOUT_FAILURES
from hub.api.app import Services
from hub.codes import Role
from hub.console import sessions
from hub.db.engine import Database
from hub.db.models import Account, AuditEvent, ConsoleSession
from hub.server import compose
from hub.settings import Settings
from tests.conftest import PASSWORD, make_user

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


@dataclass
class Console:
    db: Database
    client: Client
    environ: dict[str, str]

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(path, environ_base=self.environ, **kw)

    def post(self, path: str, data: dict[str, str], **kw: Any) -> TestResponse:
        return self.client.post(path, data=data, environ_base=self.environ, **kw)

    def csrf(self, path: str = "/console/login") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def login(self, user: str = "admin", password: str = PASSWORD) -> TestResponse:
        return self.post("/console/login", {"csrf": self.csrf(), "username": user, "password": password})

    def events(self, operation_prefix: str = "Console") -> list[tuple[str, str, str]]:
        with self.db.read() as s:
            rows = s.execute(
                select(AuditEvent.username, AuditEvent.operation, AuditEvent.outcome)
                .where(AuditEvent.operation.like(f"{operation_prefix}%"))
                .order_by(AuditEvent.seq)
            ).all()
        return [tuple(r) for r in rows]

    def status_of(self, username: str) -> str:
        with self.db.read() as s:
            return s.scalar(select(Account.status).where(Account.username == username))


@pytest.fixture
def serve(db: Database, tmp_path: Path) -> Iterator[Callable[..., Console]]:
    """Console over ``db`` with the given settings; its engines disposed afterwards."""
    masterkey.create(tmp_path / "master.key")
    built: list[Services] = []

    def make(environ: dict[str, str], **settings: Any) -> Console:
        services = Services.build(Settings(data_dir=tmp_path, database_url=db.url, **settings))
        built.append(services)
        return Console(db, Client(compose(services)), environ)

    yield make
    for services in built:
        services.db.dispose()


@pytest.fixture
def console(db: Database, serve: Callable[..., Console]) -> Console:
    """The console served the way the development setting allows: plain HTTP from loopback."""
    make_user(db, "admin", role=Role.ADMINISTRATOR)
    make_user(db, "clerk")
    return serve(LOOPBACK, dev_password_text_over_http=True)


def test_an_administrator_signs_in_and_gets_a_strict_http_only_cookie(console: Console) -> None:
    answer = console.login()
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/")
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("ccpor_console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP (development): a Secure cookie would never come back
    page = console.get("/console/")
    assert page.status_code == 200 and "Queues" in page.text
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert header in page.headers
    assert page.headers["Cache-Control"] == "no-store"
    with console.db.read() as s:
        stored = s.scalars(select(ConsoleSession.token_sha256)).all()
    token = cookie.split(";")[0].split("=", 1)[1]
    assert stored and token not in stored  # only its hash is kept
    assert console.events() == [("admin", "Console Logon", "OK"), ("admin", "Console Overview", "OK")]


def test_a_user_who_is_not_an_administrator_cannot_sign_in(console: Console) -> None:
    answer = console.login("clerk")
    assert answer.status_code == 403 and "for administrators only" in answer.text
    assert "ccpor_console=" not in " ".join(answer.headers.getlist("Set-Cookie"))
    assert console.get("/console/users").status_code == 302  # still signed out
    assert console.events() == [("clerk", "Console Logon", "Client.Forbidden")]


def test_wrong_passwords_lock_the_account_as_soap_logons_do(console: Console) -> None:
    for _ in range(LOCKOUT_FAILURES):
        assert console.login(password="wrong password!").status_code == 401  # noqa: S106
    assert console.status_of("admin") == "LOCKED"
    refused = console.login()  # the right password no longer helps
    assert refused.status_code == 401 and "ccpor_console=" not in " ".join(refused.headers.getlist("Set-Cookie"))
    assert [o for _, _, o in console.events()] == ["Client.Authentication"] * (LOCKOUT_FAILURES + 1)


def test_forms_without_the_csrf_token_or_from_another_site_are_refused(console: Console) -> None:
    console.login()
    token = console.csrf("/console/users/clerk")
    attempts = [
        ({"reason": "no token"}, {}),
        ({"reason": "wrong token", "csrf": "0" * 64}, {}),
        ({"reason": "cross-site", "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
        ({"reason": "other origin", "csrf": token}, {"Origin": "https://evil.example"}),
    ]
    for data, headers in attempts:
        answer = console.post("/console/users/clerk/disable", data, headers=headers)
        assert answer.status_code == 403, data["reason"]
        assert console.status_of("clerk") == "ACTIVE", data["reason"]
    done = console.post("/console/users/clerk/disable", {"reason": "left the court", "csrf": token})
    assert done.status_code == 200 and console.status_of("clerk") == "DISABLED"
    outcomes = [(op, o) for _, op, o in console.events("Console User")]
    assert outcomes[-5:] == [("Console User disable", "Client.Forbidden")] * 4 + [("Console User disable", "OK")]


def test_the_login_form_itself_needs_its_token(console: Console) -> None:
    console.get("/console/login")  # the pre-session cookie is set ...
    answer = console.post("/console/login", {"username": "admin", "password": PASSWORD})  # ... but no token sent
    assert answer.status_code == 403
    assert "ccpor_console=" not in " ".join(answer.headers.getlist("Set-Cookie"))


def test_an_idle_session_locks_after_30_minutes_and_refreshes_do_not_keep_it_alive(console: Console) -> None:
    console.login()

    def active_at() -> Any:
        with console.db.read() as s:
            return s.scalar(select(ConsoleSession.active_at))

    before = active_at()
    with console.db.unit_of_work() as s:  # as if the last click was 29 minutes ago
        s.execute(update(ConsoleSession).values(active_at=before - timedelta(minutes=29)))
    assert console.get("/console/", headers={"X-Console-Refresh": "1"}).status_code == 200
    assert active_at() == before - timedelta(minutes=29)  # an auto-refresh is not activity
    with console.db.unit_of_work() as s:
        s.execute(update(ConsoleSession).values(active_at=before - sessions.IDLE - timedelta(seconds=1)))
    assert console.get("/console/", headers={"X-Console-Refresh": "1"}).status_code == 401
    locked = console.get("/console/messages")
    assert locked.status_code == 302 and "/console/login?ended=1" in locked.headers["Location"]
    with console.db.read() as s:
        assert s.scalars(select(ConsoleSession)).all() == []  # the locked session is gone
    assert console.get(locked.headers["Location"]).status_code == 200  # sign in again


def test_logout_ends_the_session_and_a_disabled_administrator_is_signed_out(console: Console, db: Database) -> None:
    console.login()
    console.post("/console/logout", {"csrf": console.csrf("/console/")})
    assert console.get("/console/").status_code == 302
    make_user(db, "admin2", role=Role.ADMINISTRATOR)
    console.login("admin2")
    assert console.get("/console/users").status_code == 200
    with db.unit_of_work() as s:
        s.execute(update(Account).where(Account.username == "admin2").values(status="DISABLED"))
    assert console.get("/console/users").status_code == 302


def test_every_page_is_audited_and_bad_filters_are_a_clear_refusal(console: Console) -> None:
    console.login()
    for path in ("/console/messages", "/console/locks", "/console/users", "/console/audit", "/console/reports"):
        assert console.get(path).status_code == 200, path
    bad = console.get("/console/messages?state=LOST")
    assert bad.status_code == 400 and "unknown queue state" in bad.text
    ops = [op for _, op, _ in console.events()]
    assert ops[1:] == [
        "Console Messages",
        "Console Locks",
        "Console Users",
        "Console Audit",
        "Console Reports",
        "Console Messages",
    ]
    assert console.events()[-1] == ("admin", "Console Messages", "Client.ValidationError")


@pytest.mark.parametrize(
    "environ, allowed",
    [
        ({"REMOTE_ADDR": "127.0.0.1"}, False),  # plain HTTP: no password in the clear, loopback or not
        ({"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_PROTO": "https"}, True),  # a trusted TLS proxy
        ({"REMOTE_ADDR": "192.0.2.9", "HTTP_X_FORWARDED_PROTO": "https"}, False),  # anyone else's header
    ],
)
def test_in_production_a_password_is_taken_only_over_tls_and_the_cookie_is_secure(
    db: Database, serve: Callable[..., Console], environ: dict[str, str], allowed: bool
) -> None:
    make_user(db, "admin", role=Role.ADMINISTRATOR)
    console = serve(environ, trusted_proxies=("10.0.0.0/8",))
    answer = console.login()
    if not allowed:
        assert answer.status_code == 401 and "only over TLS" in answer.text
        assert console.events() == [("admin", "Console Logon", "Client.Authentication")]
        with db.read() as s:
            assert s.scalar(select(Account.failed_logons).where(Account.username == "admin")) == 0  # never tried
        return
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("ccpor_console="))
    assert answer.status_code == 302 and "Secure" in cookie


def test_hostile_or_oversize_input_is_a_clear_refusal_and_changes_nothing(console: Console) -> None:
    console.login()
    token = console.csrf("/console/users/clerk")
    huge = console.post("/console/users/clerk/disable", {"csrf": token, "reason": "x" * 300_000})
    assert huge.status_code == 413 and console.status_of("clerk") == "ACTIVE"
    injected = console.get('/console/reports/volume-by-court.csv?month=2026-11&court=CA019015J"%0d%0aX: y')
    assert injected.status_code == 400 and "is not an ORI" in injected.text and "X" not in injected.headers
    assert console.get("/console/messages?page=99999999999999999999999").status_code == 200
    naive = console.post(
        "/console/locks/unlock",
        {"csrf": token, "order": "CCP0000000001", "locked_at": "2026-12-01T10:00", "reason": "r"},
    )
    assert naive.status_code == 400 and "with its zone" in naive.text
    script = console.get("/console/audit?username=<script>alert(1)</script>")
    assert script.status_code == 200 and "<script>alert" not in script.text and "&lt;script&gt;" in script.text


def _cookie(answer: TestResponse) -> str:
    header = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("ccpor_console="))
    return header.split(";")[0].split("=", 1)[1]


def test_each_sign_in_makes_a_new_session_and_a_planted_token_is_never_adopted(console: Console) -> None:
    """No session fixation: a token the browser brings to the sign-in form (planted by someone else)
    is not the session after it, and every sign-in gets a token of its own."""
    planted = "attacker-chosen-token-value"
    console.client.set_cookie("ccpor_console", planted, domain="localhost", path="/console")
    first = _cookie(console.login())
    second = _cookie(console.login())
    assert planted not in (first, second) and first != second
    with console.db.read() as s:
        stored = set(s.scalars(select(ConsoleSession.token_sha256)))
    assert sessions._digest(planted) not in stored and sessions._digest(second) in stored


def test_reading_pages_changes_nothing_but_the_audit_and_the_sessions_activity(console: Console, db: Database) -> None:
    console.login()

    def state() -> dict[str, list[Any]]:
        with db.read() as s:
            tables = {
                name: [tuple(r) for r in s.execute(select(table)).all()]
                for name, table in (("accounts", Account.__table__),)
            }
            tables["sessions"] = [
                tuple(r) for r in s.execute(select(ConsoleSession.token_sha256, ConsoleSession.account_id)).all()
            ]
            tables["not-audit"] = [
                tuple(r) for r in s.execute(select(AuditEvent.seq).where(~AuditEvent.operation.like("Console%"))).all()
            ]
        return tables

    before = state()
    for path in (
        "/console/",
        "/console/messages",
        "/console/locks",
        "/console/users",
        "/console/audit",
        "/console/reports",
    ):
        assert console.get(path).status_code == 200, path
    assert state() == before
    assert [e[1] for e in console.events()][-6:] == [
        "Console Overview",
        "Console Messages",
        "Console Locks",
        "Console Users",
        "Console Audit",
        "Console Reports",
    ]
