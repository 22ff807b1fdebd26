"""The web console end to end in a real headless browser (Debian's Chromium driven by Playwright)
against the real hub, gateway and mock DOJ switch: a switch that refuses the hub's transmissions
makes a message DEAD; an administrator signs in, finds it, requeues it with a reason and watches it
reach ACCEPTED; forms without the CSRF token or posted from another site change nothing; a user who
is not an administrator cannot sign in. Screenshots of the main pages go to test-artifacts/console/
(``CCPOR_TEST_ARTIFACTS`` to put them elsewhere).

Without /usr/bin/chromium the test skips with the reason; ``.ci/run`` installs it and sets
``CCPOR_REQUIRE_BROWSER=1``, so in CI a missing browser fails instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db.engine import Database
from hub.db.models import Account, OutboxMessage
from tests.conftest import PASSWORD
from tests.support.orders import order
from tests.support.waiting import until

CHROMIUM = os.environ.get("CCPOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CCPOR_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")) / "console"

pytestmark = pytest.mark.functional


def _browser_or_skip() -> None:
    if Path(CHROMIUM).exists() and shutil.which(CHROMIUM):
        return
    reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if os.environ.get("CCPOR_REQUIRE_BROWSER"):
        pytest.fail(reason + "; CCPOR_REQUIRE_BROWSER is set")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, carpos):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 1024}, base_url=carpos.running.server.url)
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def _shot(page, name: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{kind}-{name}.png"), full_page=True)


def _sign_in(page, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/")  # signed out: sent to the sign-in page
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _state(db: Database, mcn: str) -> str | None:
    with db.read() as s:
        return s.scalar(select(OutboxMessage.state).where(OutboxMessage.mcn == mcn))


def test_an_administrator_requeues_a_refused_message_and_watches_it_reach_accepted(carpos, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    kind = "postgresql" if carpos.running.db_url.startswith("postgresql") else "sqlite"
    db = Database(carpos.running.db_url)
    try:
        # A switch that does not know the hub's certificate refuses its transmissions: DEAD at once.
        stranger = Path(carpos.env["CCPOR_CARPOS_KEY_DIR"]) / "doj.pem"
        with carpos.switch_with(CCPOR_HUB_CERT_FILE=str(stranger)):
            receipt = carpos.client("clerk").service.SubmitOrder(
                Order=order(CaseDocketID="24FLCONSOLE"), SubmitToCarposIndicator=True
            )
            mcn = f"{receipt.OrderId}-001"
            until(lambda: _state(db, mcn) == "DEAD", f"{mcn} refused by the switch and DEAD", timeout=60)

        # Someone who is not an administrator cannot sign in.
        _sign_in(page, "clerk")
        expect(page.locator(".notice")).to_contain_text("for administrators only")
        _shot(page, "login-refused", kind)

        _sign_in(page, "clets-admin")
        expect(page.locator("h1")).to_have_text("Queues")
        expect(page.locator("#count-DEAD")).not_to_have_text("0")
        _shot(page, "overview", kind)

        page.click("a.card.state-dead")  # the DEAD card lists the dead messages
        row = page.locator(f"tr[data-mcn='{mcn}']")
        expect(row.locator("td.state")).to_have_text("DEAD")
        expect(row.locator("td.error")).to_contain_text("refused")
        _shot(page, "messages-dead", kind)
        row.locator("input[type=checkbox]").check()
        page.click("text=Requeue the selected dead messages")
        expect(page.locator("h1")).to_contain_text("Requeue 1 dead message?")
        page.fill("input[name=reason]", "switch pinned the wrong certificate; fixed")
        page.click("button:has-text('Requeue')")
        expect(page.locator("ul.done")).to_contain_text(f"{mcn} requeued")

        page.goto(f"/console/messages?mcn={mcn}")
        page.click(f"a:has-text('{mcn}')")
        # The message page refreshes itself while the message is on its way.
        expect(page.locator("#state")).to_have_text("ACCEPTED", timeout=60_000)
        expect(page.locator("#carpos-text")).to_contain_text("EPO")  # a CLETS-certified administrator
        expect(page.locator("table")).to_contain_text("DEAD")  # its history: the refusal ...
        expect(page.locator("table")).to_contain_text("Console Requeue")  # ... the requeue, by whom
        _shot(page, "message-accepted", kind)
        assert _state(db, mcn) == "ACCEPTED"

        for path, name in (
            ("/console/users", "users"),
            ("/console/locks", "locks"),
            ("/console/audit?username=clets-admin", "audit"),
            ("/console/reports?month=2026-11", "reports"),
        ):
            page.goto(path)
            expect(page.locator("main h1")).to_be_visible()
            _shot(page, name, kind)

        # Forms without the CSRF token, or posted from another site, change nothing.
        no_token = page.request.post("/console/users/reader/disable", form={"reason": "no token"})
        assert no_token.status == 403
        page.goto("/console/users/reader")
        token = page.locator("input[name=csrf]").first.get_attribute("value")
        attacker = page.context.new_page()
        target = f"{carpos.running.server.url}/console/users/reader/disable"
        attacker.set_content(
            f'<form method="post" action="{target}"><input name="csrf" value="{token}">'
            '<input name="reason" value="cross-site"><button>go</button></form>'
        )
        with attacker.expect_navigation():
            attacker.click("button")
        assert "Disabled" not in attacker.content()
        attacker.close()
        with db.read() as s:
            assert s.scalar(select(Account.status).where(Account.username == "reader")) == "ACTIVE"

        # Signing out ends the session.
        page.goto("/console/")
        page.click("text=Sign out")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.goto("/console/messages")
        expect(page.locator("h1")).to_have_text("Sign in")
    finally:
        db.dispose()
